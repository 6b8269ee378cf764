"""Flipping between a run's alternative results (inpaint with Variants > 1): "Variant 2 of 3 ◀ ▶".

The first variant is applied as the run's one undo step; flipping puts another variant's step
in that step's place (Document.replace_step), so undo after any number of flips brings back the
image before the run, and compare shows the variant on screen against it. The bar shows while
that step is the last change of the image (undoing it hides the bar, redoing shows it again).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from studio.editing import history as hist
from studio.editing.history import Patch, Rect, Step

PREVIOUS_KEY, NEXT_KEY = "Alt+Left", "Alt+Right"  # free in the window, and "back/forward" elsewhere


@dataclass
class Variants:
    """The results of one run, as crops of the rectangle any of them changed (quantized)."""

    rect: Rect
    before: np.ndarray
    afters: list[np.ndarray]


def variant_crops(before_q: np.ndarray, afters_q: list[np.ndarray]) -> Variants | None:
    """Crop same-size quantized results to the rectangle any of them changed (None: none did)."""
    changed = np.zeros(before_q.shape[:2], bool)
    for after in afters_q:
        changed |= np.any(after != before_q, axis=2)
    rect = hist.bbox(changed)
    if rect is None:
        return None
    x, y, w, h = rect
    region = (slice(y, y + h), slice(x, x + w))
    return Variants(rect, before_q[region].copy(), [a[region].copy() for a in afters_q])


class VariantsBar(QWidget):
    """'Variant 1 of 3' with previous and next buttons, under a panel's run button."""

    changed = Signal(bool)  # whether there is something to flip now (the window's actions follow)

    def __init__(self, host, parent=None):
        super().__init__(parent)
        self.host = host
        self.variants: Variants | None = None
        self.document = None
        self.step: Step | None = None  # the step on screen (in the history)
        self.index = 0
        self._label, self._others = "", []  # the run's step label; its patches besides the image's
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.text = QLabel()
        self.previous = QToolButton(text="◀", toolTip=f"Previous variant ({PREVIOUS_KEY})")
        self.next = QToolButton(text="▶", toolTip=f"Next variant ({NEXT_KEY})")
        self.previous.clicked.connect(lambda: self.flip(-1))
        self.next.clicked.connect(lambda: self.flip(1))
        layout.addWidget(self.text)
        layout.addStretch(1)
        layout.addWidget(self.previous)
        layout.addWidget(self.next)
        policy = self.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # the form above does not move when the bar shows
        self.setSizePolicy(policy)
        self.hide()

    @property
    def active(self) -> bool:
        doc = self.host.document
        return (self.step is not None and doc is self.document and doc is not None
                and doc.history.last_image_step() is self.step)

    def offer(self, variants: Variants, label: str, others: list[Patch]) -> Step:
        """Keep a run's variants; returns the first one's step, for the caller to apply."""
        self.variants, self.document, self._label, self._others = variants, self.host.document, label, others
        self.index, self.step = 0, self._make(0)
        return self.step

    def _make(self, index: int) -> Step:
        v, n = self.variants, len(self.variants.afters)
        patch = Patch("image", v.rect, v.before, v.afters[index])
        return Step(f"{self._label}, variant {index + 1} of {n}", [patch, *self._others])

    def flip(self, delta: int) -> bool:
        """Show the next (+1) or previous (-1) variant in place of the one on screen."""
        if not self.active:
            self.host.status("No variants to choose from: fill with Variants above 1 first")
            return False
        n = len(self.variants.afters)
        old, old_index = self.step, self.index
        self.index = (old_index + delta) % n
        self.step = self._make(self.index)  # before the window tells the panels (sync reads it)
        if not self.host.replace_step(old, self.step, f"Variant {self.index + 1} of {n}"):
            self.index, self.step = old_index, old
            return False
        self.sync()
        return True

    def sync(self) -> None:
        """Show the bar while the run's result is still the last change of the image."""
        active = self.active
        if active:
            self.text.setText(f"Variant {self.index + 1} of {len(self.variants.afters)}")
        self.setVisible(active)
        self.changed.emit(active)
