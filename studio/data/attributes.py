"""CelebA attribute labels: the IcGAN attribute list and the label-file reader.

The file format (CelebA's list_attr_celeba.txt, also CelebA-HQ's list_attr.txt): line 1 the
row count, line 2 the attribute names, then one row per image: `N.jpg` and one value of 1 or
-1 per name. Qt-free and torch-free, so the engine and the benchmark can use it too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from studio.errors import StudioError

# The 18 attributes of the IcGAN paper, in the order the nets see them.
ATTRIBUTES = (
    "Bald", "Bangs", "Black_Hair", "Blond_Hair", "Brown_Hair", "Bushy_Eyebrows", "Eyeglasses", "Gray_Hair",
    "Heavy_Makeup", "Male", "Mouth_Slightly_Open", "Mustache", "Pale_Skin", "Receding_Hairline", "Smiling",
    "Straight_Hair", "Wavy_Hair", "Wearing_Hat",
)


def read_labels(path: Path, names=ATTRIBUTES) -> dict[str, np.ndarray]:
    """{file name: int8 vector of +1/-1 for `names`, in that order}; StudioError when malformed."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise StudioError(f"cannot read the attribute file {path}: {e}") from None
    if len(lines) < 2:
        raise StudioError(f"{path} is not a CelebA attribute file (it needs a count line and a names line)")
    try:
        count = int(lines[0].strip())
    except ValueError:
        raise StudioError(f"{path}: line 1 should be the number of rows, not {lines[0][:40]!r}") from None
    header = lines[1].split()
    missing = [n for n in names if n not in header]
    if missing:
        raise StudioError(f"{path} lacks the attribute(s) {', '.join(missing)}")
    cols = [header.index(n) for n in names]
    labels: dict[str, np.ndarray] = {}
    for lineno, line in enumerate(lines[2:], start=3):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != len(header) + 1:
            raise StudioError(f"{path} line {lineno}: {len(parts) - 1} values for {len(header)} attributes")
        try:  # every value is checked: a bad one anywhere means the file is damaged
            values = np.array([int(v) for v in parts[1:]], dtype=np.int64)
        except ValueError:
            raise StudioError(f"{path} line {lineno}: values must be 1 or -1") from None
        if not np.all(np.abs(values) == 1):
            raise StudioError(f"{path} line {lineno}: values must be 1 or -1")
        labels[parts[0]] = values[cols].astype(np.int8)
    if len(labels) != count:
        raise StudioError(f"{path}: line 1 says {count} rows but the file has {len(labels)}")
    return labels


def labels_for(files, labels: dict[str, np.ndarray]) -> np.ndarray:
    """(N, len(names)) float32 matrix of +1/-1 for image paths, matched by file name."""
    rows = []
    for p in files:
        row = labels.get(Path(p).name)
        if row is None:
            raise StudioError(f"the attribute file has no row for {Path(p).name}")
        rows.append(row)
    width = len(next(iter(labels.values()), ()))
    return np.stack(rows).astype(np.float32) if rows else np.zeros((0, width), np.float32)


def default_label_file(data: Path) -> Path | None:
    """list_attr.txt in the image folder or its parent (CelebA-HQ's layout), if there is one."""
    for cand in (Path(data) / "list_attr.txt", Path(data).parent / "list_attr.txt"):
        if cand.is_file():
            return cand
    return None
