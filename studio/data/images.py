"""Image files: finding them in a stable order, the name-order holdout split, decoding, crops,
and the super-resolution literature's bicubic resize.

Files are ordered by their numeric name (2.jpg before 10.jpg) and the LAST `holdout` of
them are validation: the split depends on nothing but the file names, so every run and
every rank agrees on it and validation images never reach training.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from studio.errors import StudioError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def _name_key(p: Path):
    # Numeric names first, in numeric order; anything else after, alphabetically.
    return (0, int(p.stem), "") if p.stem.isdigit() else (1, 0, p.name)


def list_images(folder: Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise StudioError(f"image folder {folder} does not exist")
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_name_key)
    if not files:
        raise StudioError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}")
    return files


def split_holdout(files: list[Path], holdout: int) -> tuple[list[Path], list[Path]]:
    """(train, validation): validation is the last `holdout` files in name order."""
    if holdout < 0:
        raise StudioError("--val-holdout must be 0 or more")
    if holdout >= len(files):
        raise StudioError(f"--val-holdout {holdout} leaves no training images out of {len(files)}")
    cut = len(files) - holdout
    return files[:cut], files[cut:]


def find_images(folders: list[Path]) -> list[Path]:
    """All images under the folders (recursively), in a stable order."""
    files: list[Path] = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise StudioError(f"image folder {folder} does not exist")
        found = [p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES]
        files += sorted(found, key=lambda p: (str(p.parent), *_name_key(p)))
    if not files:
        raise StudioError(f"no images in {', '.join(str(f) for f in folders)}")
    return files


def held_out(folder: Path, n: int) -> list[Path]:
    """The last n images of a folder by name: validation for the trainer and the benchmark."""
    files = sorted((p for p in find_images([folder]) if p.parent == Path(folder)), key=_name_key)
    return files[-n:] if n > 0 else []


def read_rgb(path: Path) -> np.ndarray:
    """uint8 (H, W, 3) RGB, decoded by Pillow."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except Exception as e:  # noqa: BLE001 - a broken image file: say which
        raise StudioError(f"cannot read image {path}: {e}") from None


def read_square(path: Path, size: int = 64) -> np.ndarray:
    """float32 (size, size, 3) RGB in [0, 1], decoded by OpenCV and area-resized if needed
    (the face benchmarks' 64x64 faces)."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise StudioError(f"cannot read image {path}")
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if img.shape[:2] != (size, size):
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return img.astype(np.float32) / 255.0


def centre_crop(img: np.ndarray, size: int) -> np.ndarray:
    """size x size from the middle (the short side scaled up to size first if smaller)."""
    h, w = img.shape[:2]
    if min(h, w) < size:
        k = size / min(h, w)
        img = cv2.resize(img, (max(size, round(w * k)), max(size, round(h * k))), interpolation=cv2.INTER_CUBIC)
        h, w = img.shape[:2]
    y, x = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(img[y:y + size, x:x + size])


def bicubic_down(hr: np.ndarray, scale: int) -> np.ndarray:
    """uint8 (H, W, 3) -> uint8 (H/scale, W/scale, 3), antialiased bicubic (Pillow's BICUBIC =
    MATLAB imresize: how the literature's LR test images are made)."""
    h, w = hr.shape[:2]
    return np.asarray(Image.fromarray(hr).resize((w // scale, h // scale), Image.BICUBIC))


def bicubic_up(lr8: np.ndarray, scale: int) -> np.ndarray:
    """uint8 (h, w, 3) -> float32 (h*scale, w*scale, 3) in [0, 1]: the literature's bicubic baseline."""
    h, w = lr8.shape[:2]
    up = Image.fromarray(lr8).resize((w * scale, h * scale), Image.BICUBIC)
    return np.asarray(up).astype(np.float32) / 255.0
