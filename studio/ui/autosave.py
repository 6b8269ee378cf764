"""Session autosave and crash recovery.

About every minute of changes the current image (PNG at its bit depth, alpha kept), the mask
(npz), its ICC/EXIF bytes, the undo steps and a small JSON go into this process's folder under
the user state dir. Encoding runs on a plain thread; the files are written under temporary
names and renamed into place by the UI thread only if the image did not change meanwhile, the
JSON last, so a folder with a JSON is always complete. A clean exit deletes the folder; a
folder left by a process that is gone is offered for recovery at the next start. A folder
whose JSON is unreadable is skipped, and removed once the process named in its folder name
is gone: a start is never blocked by a damaged autosave.

Undo steps: each step is one file (step-UID.npz), written once, by the first autosave after the
step was made; a step never changes, so later autosaves write only the steps that are new and
delete the files of steps that left the history (undone and replaced, or trimmed by the
memory budget). What goes to disk per autosave is thus what changed since the last one, and
the folder never holds more history than the memory budget allows.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from studio.editing import history as hist
from studio.editing import history_io
from studio.editing.document import Document
from studio.project import png_bytes

INTERVAL_MS = 60_000
SESSION_JSON = "session.json"
IMAGE, MASK, ICC, EXIF = "image.png", "mask.npz", "icc.bin", "exif.bin"
_STEP_FILE = re.compile(r"step-\d+\.npz")
_FOLDER = re.compile(r"session-(\d+)")


def default_state_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_state_dir("gan-studio", appauthor=False))


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True  # exists, owned by someone else (or we cannot tell): leave it alone
    try:  # Linux: a killed process nobody has reaped yet (a zombie) is gone all the same
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _read_info(folder: Path) -> dict | None:
    """A session's JSON if it is one we could have written (a dict with a whole-number pid and a
    time), else None: hand-edited or damaged files must not break the start."""
    try:
        info = json.loads((folder / SESSION_JSON).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(info, dict):
        return None
    pid, when = info.get("pid"), info.get("time", 0)
    if type(pid) is not int or not 0 < pid < 2 ** 31:
        return None
    if type(when) not in (int, float) or not math.isfinite(when):
        info["time"] = 0
    return info


def _abandoned(folder: Path) -> bool:
    """A session-PID folder without a usable JSON whose process is gone: nothing in it can be
    recovered and nobody will finish it."""
    m = _FOLDER.fullmatch(folder.name)
    return bool(m) and len(m.group(1)) < 10 and not _pid_alive(int(m.group(1)))


class Autosaver(QObject):
    written = Signal()  # a snapshot was committed (tests wait on it)
    _encoded = Signal(object)

    def __init__(self, get_document, state_dir: Path | None = None, interval_ms: int = INTERVAL_MS, parent=None):
        super().__init__(parent)
        self.get_document = get_document
        self.root = Path(state_dir or default_state_dir()) / "autosave"
        self.folder = self.root / f"session-{os.getpid()}"
        self._busy = False
        self._saved: tuple[int, int] | None = None  # (id(document), revision) last written
        self._on_disk: set[int] = set()  # uids of the steps with a file in the folder
        self._encoded.connect(self._commit)
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.save_now)
        self.timer.start()

    def save_now(self) -> bool:
        """Start writing a snapshot if anything changed since the last one."""
        doc = self.get_document()
        if doc is None or self._busy:
            return False
        key = (id(doc), doc.revision)
        if key == self._saved or (doc.revision == 0 and not doc.dirty):
            return False  # nothing to lose: unchanged since opened or since last time
        self._busy = True
        steps = list(doc.history.steps)
        records = [history_io.step_record(s) for s in steps]
        new_steps = [(s.uid, arrays) for s, (_, arrays) in zip(steps, records) if s.uid not in self._on_disk]
        history = dict(history_position=doc.history.position, history_dropped=doc.history.dropped,
                       steps=[{**r, "file": f"step-{s.uid}.npz"} for s, (r, _) in zip(steps, records)])
        job = dict(doc=doc, key=key, image_revision=doc.image_revision, mask=doc.mask.copy(),
                   rgb=doc.picture.rgb, alpha=doc.picture.alpha, bits=doc.bit_depth, new_steps=new_steps,
                   history=history, uids={s.uid for s in steps}, written=[])
        threading.Thread(target=self._encode, args=(job,), name="studio-autosave", daemon=True).start()
        return True

    def _encode(self, job: dict) -> None:  # on the autosave thread
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            q = hist.quantize(job["rgb"], job["bits"])
            a = None if job["alpha"] is None else hist.quantize(job["alpha"], job["bits"])
            _write_bytes_atomic(self.folder / f".pending-{IMAGE}", png_bytes(q, a, compression=1))
            tmp_mask = self.folder / f".pending-{MASK}"
            with open(tmp_mask, "wb") as f:
                np.savez_compressed(f, mask=job["mask"])
            for uid, arrays in job["new_steps"]:  # unreferenced until the JSON names them
                _write_bytes_atomic(self.folder / f"step-{uid}.npz", history_io.npz_bytes(arrays))
                job["written"].append(uid)
            job["error"] = None
        except Exception as e:  # noqa: BLE001 - autosave must never take the editor down
            job["error"] = e
        self._encoded.emit(job)

    def _commit(self, job: dict) -> None:  # UI thread
        self._busy = False
        self._on_disk.update(job["written"])
        doc = job["doc"]
        if job["error"] is not None or doc is not self.get_document() or doc.image_revision != job["image_revision"]:
            return  # changed while encoding (or failed): the next tick writes a fresh one
        pic = doc.picture
        os.replace(self.folder / f".pending-{IMAGE}", self.folder / IMAGE)
        os.replace(self.folder / f".pending-{MASK}", self.folder / MASK)
        for name, data in ((ICC, pic.icc), (EXIF, pic.exif)):
            if data:
                _write_bytes_atomic(self.folder / name, data)
            elif (self.folder / name).exists():
                (self.folder / name).unlink()
        info = dict(version=1, pid=os.getpid(), time=time.time(), name=doc.name,
                    source=str(doc.source) if doc.source else None,
                    save_path=str(doc.save_path) if doc.save_path else None,
                    project_path=str(doc.project_path) if doc.project_path else None,
                    size=list(doc.size), bit_depth=doc.bit_depth, was_gray=bool(pic.was_gray), format=pic.format,
                    **job["history"])
        _write_bytes_atomic(self.folder / SESSION_JSON, (json.dumps(info, indent=1) + "\n").encode())
        for uid in self._on_disk - job["uids"]:  # steps the history no longer holds
            (self.folder / f"step-{uid}.npz").unlink(missing_ok=True)
        self._on_disk &= job["uids"]
        self._saved = job["key"]
        self.written.emit()

    def discard(self) -> None:
        """Clean exit (or the user saved and closed): nothing to recover."""
        self.timer.stop()
        remove_session(self.folder)
        self._on_disk.clear()

    # ------------------------------------------------------------ recovery
    def recoverable(self) -> list[Path]:
        """Folders of sessions whose process is gone, newest first. Folders with a damaged JSON
        are skipped (and removed when abandoned)."""
        found = []
        try:
            folders = [d for d in self.root.iterdir() if d.is_dir() and d != self.folder]
        except OSError:
            return []
        for d in folders:
            info = _read_info(d)
            if info is None:
                if _abandoned(d):
                    remove_session(d)
            elif not _pid_alive(info["pid"]):
                found.append((info["time"], d.name, d))
        return [d for *_, d in sorted(found, reverse=True)]


def read_session(folder: Path) -> tuple[Document, dict, str | None]:
    """(document, info, note) of a saved session: image, mask, its project file (if it still
    exists) and, when its files are whole, the undo history; note says why the history was left out. Raises StudioError, OSError or
    ValueError for a session that cannot be read at all."""
    from studio.imageio import load_image

    info = _read_info(folder)
    if info is None:
        raise ValueError("its session.json is damaged")
    pic = load_image(folder / IMAGE)
    icc = (folder / ICC).read_bytes() if (folder / ICC).exists() else None
    exif = (folder / EXIF).read_bytes() if (folder / EXIF).exists() else None
    fmt = info.get("format")
    pic = dataclasses.replace(pic, icc=icc, exif=exif, was_gray=bool(info.get("was_gray")),
                              format=fmt if isinstance(fmt, str) else None, source=None)
    doc = Document(pic)
    project = info.get("project_path")
    if isinstance(project, str) and project and Path(project).is_file():
        doc.project_path = Path(project)  # so Save writes the project again; gone, it is a new document
    try:
        with np.load(folder / MASK, allow_pickle=False) as data:
            mask = data["mask"]
        if mask.shape == doc.mask.shape and mask.dtype == np.uint8:
            doc.mask = mask
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        pass  # the image is the work that matters; a blank mask will do
    note = None
    if "steps" in info:
        try:
            doc.history = _read_history(folder, info, doc)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            note = f"its undo history could not be read ({e})"
    return doc, info, note


def _read_history(folder: Path, info: dict, doc: Document) -> hist.History:
    records = info["steps"]

    def arrays(i: int) -> dict:
        name = records[i].get("file") if isinstance(records[i], dict) else None
        if not isinstance(name, str) or not _STEP_FILE.fullmatch(name):
            raise ValueError(f"step {i} names no step file")
        return history_io.read_npz(folder / name)

    dtype = np.uint16 if doc.bit_depth == 16 else np.uint8
    return history_io.history_from_records(records, info.get("history_position"), info.get("history_dropped"),
                                           arrays, doc.size, dtype, doc.history.budget)


def remove_session(folder: Path) -> None:
    if not folder.is_dir():
        return
    for p in folder.iterdir():
        try:
            p.unlink()
        except OSError:
            pass
    try:
        folder.rmdir()
    except OSError:
        pass
