"""Pairing inputs with outputs for CLI batches, and running them past bad files.

A batch loads its engine once, then runs every item; a failing item is reported and
skipped, and the batch ends non-zero if any failed.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from studio.errors import StudioError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")


@dataclass(frozen=True)
class Item:
    inputs: tuple[Path, ...]  # image first, then any companions (mask)
    output: Path


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)


def _check_exists(p: Path, what: str) -> None:
    if not p.exists():
        raise StudioError(f"{what} {p} does not exist")


def plan(inputs: list[Path], output: Path) -> tuple[list[Item], list[str]]:
    """Items to run and problems found while pairing (e.g. an image without a mask).

    inputs[0] is the image file or folder; further inputs are companions (the mask) that
    must be the same kind. A folder pairs companions by file name, then by stem, so
    `photo.jpg` finds `photo.png` in the mask folder.
    """
    first = inputs[0]
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
    files = _images_in(first)
    if not files:
        raise StudioError(f"no images ({', '.join(IMAGE_EXTS)}) in folder {first}")
    items, problems = [], []
    for f in files:
        companions = []
        for folder in inputs[1:]:
            match = folder / f.name
            if not match.is_file():
                stems = [p for p in _images_in(folder) if p.stem == f.stem]
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
    with tqdm(total=total, desc=desc, unit="img" if many else "%", disable=quiet or None, file=sys.stderr,
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
