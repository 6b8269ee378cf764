"""Pairing inputs with outputs for CLI batches, and running them past bad files.

A batch loads its engine once, then runs every item; a failing item is reported and
skipped, and the batch ends non-zero if any failed.
"""

from __future__ import annotations

import errno
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from studio.errors import StudioError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")
NAME_MAX = 255  # bytes in one file name on Linux, macOS and Windows file systems


@dataclass(frozen=True)
class Item:
    inputs: tuple[Path, ...]  # image first, then any companions (mask)
    output: Path


def _images_in(folder: Path, exts: tuple[str, ...] = IMAGE_EXTS) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in exts)


def _check_exists(p: Path, what: str) -> None:
    try:
        os.stat(p)
    except FileNotFoundError:
        raise StudioError(f"{what} {p} does not exist") from None
    except OSError as e:  # a name too long, a link loop, a folder we may not enter
        raise StudioError(f"{what} {p}: {e.strerror or e}") from None


def _check_names(path: Path) -> None:
    """Every part of the path fits the file system's name length (else stat() itself fails)."""
    for part in path.parts:
        size = len(os.fsencode(part))
        if size > NAME_MAX:
            raise StudioError(f"the name {part[:40]}… is {size} bytes long; file names hold at most {NAME_MAX}")


def check_folder(folder: Path) -> None:
    """Say in one line why the output folder cannot be written or created, before anything is
    loaded or created (one error, not one per image)."""
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is None:  # a relative path ends at ".", which exists: only an odd root gets here
        return
    what = "write into" if existing == folder else "create"
    if not existing.is_dir():
        raise StudioError(f"cannot {what} the output folder {folder}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        why = "it is on a read-only file system" if _read_only(existing) else "permission denied"
        raise StudioError(f"cannot {what} the output folder {folder}: " + (why if existing == folder else f"{existing}: {why}"))


def prepare_folder(folder: Path) -> None:
    """Create the output folder (and its parents), or say in one line why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        file = next((p for p in (folder, *folder.parents) if p.is_file()), folder)
        raise StudioError(f"cannot create the output folder {folder}: {file} is a file, not a folder") from None
    except OSError as e:
        raise StudioError(f"cannot create the output folder {folder}: {_why(e)}") from None


def _read_only(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs on Windows
        return False


def _why(e: OSError) -> str:
    return {errno.EROFS: "it is on a read-only file system", errno.EACCES: "permission denied",
            errno.ENOSPC: "the disk is full"}.get(e.errno, e.strerror or str(e))


def plan(inputs: list[Path], output: Path, *, exts: tuple[str, ...] = IMAGE_EXTS, noun: str = "images",
         companion_exts: tuple[str, ...] | None = None) -> tuple[list[Item], list[str]]:
    """Items to run and problems found while pairing (e.g. an image without a mask).

    inputs[0] is the image file or folder; further inputs are companions (the mask) that
    must be the same kind. A folder pairs companions by file name, then by stem, so
    `photo.jpg` finds `photo.png` in the mask folder. exts: the files a folder holds (noun: their
    name in messages); companion_exts: those of companion folders (default: the same).
    """
    first = inputs[0]
    _check_names(output)
    _check_exists(first, "input")
    for extra in inputs[1:]:
        _check_exists(extra, "input")
        if extra.is_dir() != first.is_dir():
            raise StudioError(f"{first} and {extra} must both be files or both be folders")
    if not first.is_dir():
        if output.is_dir():
            output = output / first.name
        return [Item(tuple(inputs), output)], []

    if output.exists() and not output.is_dir():
        raise StudioError(f"input {first} is a folder, so the output {output} must be a folder too")
    if output.resolve() == first.resolve():
        raise StudioError(f"the output folder is the input folder {first}: pick another so no original is overwritten")
    files = _images_in(first, exts)
    if not files:
        raise StudioError(f"no {noun} ({', '.join(exts)}) in folder {first}")
    items, problems = [], []
    for f in files:
        companions = []
        for folder in inputs[1:]:
            match = folder / f.name
            if not match.is_file():
                stems = [p for p in _images_in(folder, companion_exts or exts) if p.stem == f.stem]
                match = stems[0] if stems else None
            if match is None:
                problems.append(f"{f}: no file named {f.stem}.* in {folder}")
                break
            companions.append(match)
        else:
            items.append(Item((f, *companions), output / f.name))
    return items, problems


def run_items(
    items: list[Item],
    work: Callable[[Item, Callable[[float, str], None]], list[str]],
    problems: list[str],
    *,
    desc: str,
    quiet: bool = False,
    verbose: bool = False,
    unit: str = "img",
) -> int:
    """Run work(item, report) for each item; returns the number of failures.

    `work` returns warnings (printed) and raises StudioError for a bad file.
    """
    from tqdm import tqdm

    failed = len(problems)
    for p in problems:
        print(f"studio: error: {p}", file=sys.stderr)
    many = len(items) > 1
    total = len(items) if many else 100
    with tqdm(total=total, desc=desc, unit=unit if many else "%", disable=quiet or None, file=sys.stderr,
              leave=False, dynamic_ncols=True) as bar:
        for item in items:
            def report(fraction: float, message: str) -> None:
                if many:
                    bar.set_postfix_str(f"{item.inputs[0].name}: {message}"[:60], refresh=False)
                else:
                    bar.n = round(100 * fraction)
                    bar.set_postfix_str(message[:60], refresh=False)
                    bar.refresh()

            try:
                for w in work(item, report):
                    # "info: ..." lines say what was done (e.g. the engine auto chose); others warn.
                    kind, text = ("", w[6:]) if w.startswith("info: ") else ("warning: ", w)
                    bar.write(f"studio: {kind}{item.inputs[0].name}: {text}", file=sys.stderr)
            except StudioError as e:
                failed += 1
                if verbose:
                    import traceback

                    traceback.print_exc()
                prefix = f"{item.inputs[0]}: " if many else ""
                bar.write(f"studio: error: {prefix}{e}", file=sys.stderr)
            if many:
                bar.update(1)
    if many and failed:
        print(f"studio: error: {failed} of {len(items) + len(problems)} files failed", file=sys.stderr)
    return failed
