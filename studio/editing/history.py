"""Undo/redo with a memory budget: each step keeps only the rectangle it changed.

Pixels are stored quantized to the document's bit depth (uint8 or uint16). The document keeps
its float image on that same grid (see `quantize`/`dequantize`), so storing integers loses
nothing and costs 1/4 (or 1/2) of float32. When the steps together pass the byte budget the
oldest are dropped; the newest step is always kept, even alone over budget, so the last
action can always be undone. Qt-free.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

DEFAULT_BUDGET = 768 << 20  # bytes of pixel data kept for undo


def quantize(rgb: np.ndarray, bit_depth: int) -> np.ndarray:
    """float [0, 1] -> uint8/uint16 levels (the grid the document lives on)."""
    top, dtype = (65535, np.uint16) if bit_depth == 16 else (255, np.uint8)
    t = np.clip(rgb, 0.0, 1.0)  # one float temporary, worked in place (20 MP is 240 MB)
    t *= top
    np.rint(t, out=t)
    return t.astype(dtype)


def dequantize(q: np.ndarray) -> np.ndarray:
    """The exact inverse used by imageio when it loads a file (k / 255 or k / 65535 in float32)."""
    top = 65535.0 if q.dtype == np.uint16 else 255.0
    return q.astype(np.float32) / top


Rect = tuple[int, int, int, int]  # x, y, w, h


def bbox(changed: np.ndarray) -> Rect | None:
    """Bounding rectangle of the True pixels of an HxW bool array (None when none)."""
    rows = np.flatnonzero(changed.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(changed[rows[0]:rows[-1] + 1].any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


@dataclass
class Patch:
    """One layer's rectangle before and after a step. layer: "image" or "mask"."""

    layer: str
    rect: Rect
    before: np.ndarray
    after: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.before.nbytes + self.after.nbytes


@dataclass
class Snapshot:
    """A whole document state, for steps that change the image size (upscaling)."""

    image: np.ndarray  # quantized HxWx3
    alpha: np.ndarray | None
    mask: np.ndarray  # uint8 HxW

    @property
    def nbytes(self) -> int:
        return self.image.nbytes + self.mask.nbytes + (0 if self.alpha is None else self.alpha.nbytes)


@dataclass
class Step:
    label: str
    patches: list[Patch] = field(default_factory=list)
    before: Snapshot | None = None  # set (with after) only for size-changing steps
    after: Snapshot | None = None
    changes_image: bool = True
    tag: dict | None = None  # the tool's own memo (the face panel keeps slider values here)
    # Unique in this process: the autosave names a step's file by it (a step never changes once made).
    uid: int = field(default_factory=itertools.count(1).__next__, compare=False, repr=False)

    @property
    def changes_mask(self) -> bool:
        return self.before is not None or any(p.layer == "mask" for p in self.patches)

    @property
    def nbytes(self) -> int:
        n = sum(p.nbytes for p in self.patches)
        if self.before is not None:
            n += self.before.nbytes + self.after.nbytes
        return n


def image_step(label: str, before_q: np.ndarray, after_q: np.ndarray) -> Step | None:
    """A step from two same-size quantized images, keeping only the changed rectangle."""
    rect = bbox(np.any(before_q != after_q, axis=2))
    if rect is None:
        return None
    x, y, w, h = rect
    region = (slice(y, y + h), slice(x, x + w))
    return Step(label, [Patch("image", rect, before_q[region].copy(), after_q[region].copy())])


def mask_step(label: str, before: np.ndarray, after: np.ndarray, hint: Rect | None = None) -> Step | None:
    """A mask step; `hint` bounds the search for changes (the stroke's rectangle)."""
    ox, oy = 0, 0
    if hint is not None:
        ox, oy, w, h = hint
        before, after = before[oy:oy + h, ox:ox + w], after[oy:oy + h, ox:ox + w]
    rect = bbox(before != after)
    if rect is None:
        return None
    x, y, w, h = rect
    region = (slice(y, y + h), slice(x, x + w))
    return Step(label, [Patch("mask", (x + ox, y + oy, w, h), before[region].copy(), after[region].copy())],
                changes_image=False)


class History:
    """A list of steps and a position; steps past the position are the redo list."""

    def __init__(self, budget: int = DEFAULT_BUDGET):
        self.budget = budget
        self.steps: list[Step] = []
        self.position = 0  # steps[:position] are done
        self.dropped = 0  # steps forgotten for the budget (they can no longer be undone)

    def push(self, step: Step) -> None:
        del self.steps[self.position:]  # a new action clears the redo list
        self.steps.append(step)
        self.position = len(self.steps)
        self._trim()

    def restore(self, steps: list[Step], position: int, dropped: int = 0) -> None:
        """Take over steps read back from a file, trimmed to this history's budget."""
        self.steps, self.position, self.dropped = list(steps), position, dropped
        self._trim()

    def _trim(self) -> None:
        total = sum(s.nbytes for s in self.steps)
        while len(self.steps) > 1 and total > self.budget and self.position > 1:
            total -= self.steps.pop(0).nbytes
            self.position -= 1
            self.dropped += 1

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self.steps)

    def can_undo(self) -> bool:
        return self.position > 0

    def can_redo(self) -> bool:
        return self.position < len(self.steps)

    def next_undo(self) -> Step | None:
        return self.steps[self.position - 1] if self.can_undo() else None

    def next_redo(self) -> Step | None:
        return self.steps[self.position] if self.can_redo() else None

    def take_undo(self) -> Step:
        self.position -= 1
        return self.steps[self.position]

    def take_redo(self) -> Step:
        self.position += 1
        return self.steps[self.position - 1]

    def last_image_step(self) -> Step | None:
        """The most recent done step that changed the image (for the compare view)."""
        for s in reversed(self.steps[:self.position]):
            if s.changes_image:
                return s
        return None

    def last_mask_step(self) -> Step | None:
        """The most recent done step that changed the mask (whether the mask is saved)."""
        for s in reversed(self.steps[:self.position]):
            if s.changes_mask:
                return s
        return None

    def clear(self) -> None:
        self.steps.clear()
        self.position = 0
