"""Hole masks for training and evaluating photo inpainting (float32 HxW, 1 = hole).

Two sources: the NVIDIA irregular masks (512x512 PNGs, white = hole, named so that the file
number // 2000 is the coverage bin: 0xxxx-01xxx 1-10 %, 02xxx-03xxx 10-20 %, ... 10xxx-11xxx
50-60 %), and generated brush strokes and boxes. Every generator takes a numpy Generator, so
a mask depends only on its seed: training batches replay exactly on resume, and benchmarks
see the same masks every run. The last `holdout` files of each bin (by name) are validation
masks, never trained on.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from studio.errors import StudioError

BIN_LABELS = ("1-10%", "10-20%", "20-30%", "30-40%", "40-50%", "50-60%")


def bin_of(path: Path) -> int:
    """Coverage bin 0..5 from the file name (00123.png -> 0, 10042.png -> 5)."""
    return int(Path(path).stem) // 2000


def mask_bins(folder: Path) -> dict[int, list[Path]]:
    """The folder's numbered mask PNGs by coverage bin, each list sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise StudioError(f"mask folder {folder} does not exist")
    bins: dict[int, list[Path]] = {}
    for p in sorted(folder.glob("*.png")):
        if p.stem.isdigit():
            bins.setdefault(bin_of(p), []).append(p)
    if not bins:
        raise StudioError(f"no numbered mask PNGs (00000.png ...) in {folder}")
    return dict(sorted(bins.items()))


def split_masks(folder: Path, holdout: int) -> tuple[list[Path], dict[int, list[Path]]]:
    """(training files, validation files by bin): the last `holdout` of each bin validate."""
    train, val = [], {}
    for b, files in mask_bins(folder).items():
        cut = max(0, len(files) - holdout) if holdout > 0 else len(files)
        if holdout > 0 and cut == 0:
            cut = len(files) // 2  # a tiny folder (tests): still keep the two apart
        train += files[:cut]
        val[b] = files[cut:]
    return train, val


def read_mask(path: Path) -> np.ndarray:
    """uint8 HxW, 255 = hole."""
    m = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if m is None:
        raise StudioError(f"cannot read mask {path}")
    return m


def fit_mask(m8: np.ndarray, size: int) -> np.ndarray:
    """Resize a uint8 mask to size x size, float32 0/1 (area average, then > 1/2)."""
    if m8.shape != (size, size):
        m8 = cv2.resize(m8, (size, size), interpolation=cv2.INTER_AREA)
    return (m8 > 127).astype(np.float32)


def irregular_mask(m8: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A training view of a mask file: random crop (1/2 to all of it), turn, flip, resize.

    Cropping varies the strokes' width relative to the picture, so the net meets both thin
    scratches and broad holes at its one working scale.
    """
    side = m8.shape[0]
    s = int(rng.integers(side // 2, side + 1))
    y, x = (int(rng.integers(0, d + 1)) for d in (m8.shape[0] - s, m8.shape[1] - s))
    m = np.rot90(m8[y:y + s, x:x + s], int(rng.integers(4)))
    if rng.random() < 0.5:
        m = m[:, ::-1]
    return fit_mask(np.ascontiguousarray(m), size)


def brush_strokes(size: int, rng: np.random.Generator, coverage: tuple[float, float] = (0.05, 0.5),
                  width: tuple[float, float] = (0.02, 0.12)) -> np.ndarray:
    """Free-form strokes (random walks of lines `width` x size thick) until the coverage drawn
    from the range (overshooting it by at most one segment).

    Drawn at >= 512 px and area-averaged down: smooth, round-ended strokes like a brush's.
    """
    target = rng.uniform(*coverage)
    big = size * max(1, 512 // size)
    canvas = np.zeros((big, big), np.uint8)
    for _ in range(200):
        if (canvas > 127).mean() >= target:
            break
        thick = max(1, int(rng.uniform(*width) * big))
        pt = rng.uniform(0, big, 2)
        angle = rng.uniform(0, 2 * np.pi)
        for _ in range(int(rng.integers(2, 8))):
            angle += rng.uniform(-1.2, 1.2)
            step = rng.uniform(0.05, 0.25) * big
            nxt = np.clip(pt + step * np.array([np.cos(angle), np.sin(angle)]), 0, big - 1)
            cv2.line(canvas, tuple(int(v) for v in pt), tuple(int(v) for v in nxt), 255, thick, cv2.LINE_AA)
            cv2.circle(canvas, tuple(int(v) for v in nxt), thick // 2, 255, -1, cv2.LINE_AA)
            pt = nxt
            if (canvas > 127).mean() >= target:
                break
    return fit_mask(canvas, size)


def boxes(size: int, rng: np.random.Generator, coverage: tuple[float, float] = (0.05, 0.4)) -> np.ndarray:
    """One to three rectangles (a missing corner, a sticker, a caption to remove)."""
    m = np.zeros((size, size), np.float32)
    target = rng.uniform(*coverage)
    n = int(rng.integers(1, 4))
    for _ in range(n):
        area = target / n * size * size
        aspect = rng.uniform(0.4, 2.5)
        h = int(np.clip(np.sqrt(area / aspect), 2, size * 0.9))
        w = int(np.clip(area / max(h, 1), 2, size * 0.9))
        y, x = int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1))
        m[y:y + h, x:x + w] = 1
    return m


class MaskSampler:
    """Training masks: irregular files (when given), brush strokes, or boxes plus strokes."""

    def __init__(self, files: list[Path] | None = None, *, p_file: float = 0.5, p_strokes: float = 0.3):
        self.files = list(files or [])
        self.p_file = p_file if self.files else 0.0
        self.p_strokes = p_strokes

    def __call__(self, size: int, rng: np.random.Generator) -> np.ndarray:
        u = rng.random()
        m = None
        if u < self.p_file:
            m = irregular_mask(read_mask(self.files[int(rng.integers(len(self.files)))]), size, rng)
        elif u < self.p_file + self.p_strokes:
            m = brush_strokes(size, rng)
        else:
            m = np.maximum(boxes(size, rng), brush_strokes(size, rng, (0.0, 0.15)))
        if not 0.01 <= m.mean() <= 0.7:  # a crop of a mask can miss the strokes or be all hole
            m = brush_strokes(size, rng, (0.05, 0.4))
        return m
