"""Atomic writes' temporary files: their name, writing through one, and removing those a killed
process left behind.

A save writes `.studio.<12 hex>.tmp` beside the target and renames it into place (imageio's
saves and project files both name them so). A process killed mid-write (SIGKILL, power cut)
leaves that hidden file behind; the next save into the folder removes such files once they
have not been written to for STALE_SECONDS: a live writer touches its file continuously and
renames it within a moment of the last write, so an older one belongs to nobody. Qt-free.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path

STALE_SECONDS = 600
_TEMP_NAME = re.compile(r"\..+\.[0-9a-f]{12}\.tmp")


def temp_path(path: Path) -> Path:
    """A short name, not ".NAME.<hex>.tmp": a legal 255-byte NAME would make that one illegal."""
    return path.parent / f".studio.{secrets.token_hex(6)}.tmp"


def remove_stale_temps(folder: Path, now: float | None = None) -> list[Path]:
    """Remove our temporary files in folder untouched for STALE_SECONDS; returns those removed.
    Never raises: cleaning up is a courtesy, the save itself must go on."""
    removed = []
    now = time.time() if now is None else now
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        try:
            if (_TEMP_NAME.fullmatch(entry.name) and entry.is_file(follow_symlinks=False)
                    and now - entry.stat(follow_symlinks=False).st_mtime > STALE_SECONDS):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def write_atomic(path: Path, write: Callable[[object], None]) -> None:
    """write(binary file) into a temporary file beside path, flushed to disk, then renamed onto
    path: readers see the old file or the new one, never half of one. Raises OSError."""
    remove_stale_temps(path.parent)
    tmp = temp_path(path)
    try:
        with open(tmp, "xb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            shutil.copymode(path, tmp)  # keep the replaced file's permissions
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # gone after the rename; left only by a failed write
