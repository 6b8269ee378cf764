"""The mask's actions: the brush, eraser and face-box tools, the brush size and hardness boxes,
clear, invert, load and export the mask, clear the face box, and the face box's status line.

Each change of the mask is one undo step of the document.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QFileDialog, QSpinBox

from studio.editing.brush import Brush
from studio.errors import StudioError
from studio.ui import dialogs
from studio.ui.file_actions import OPEN_FILTER

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow

BRUSH_STEP = 1.25  # [ and ] change the brush size by this factor


class MaskActions(QObject):
    """The Mask menu's actions, the toolbar's brush boxes and their slots. Of the window it uses:
    document, canvas, refresh, status, add_action and files (the save dialog and writer)."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window
        canvas = window.canvas
        a = window.add_action
        self.act_brush = a("&Brush", lambda: self.set_tool("brush"), "B", checkable=True,
                           tip="Paint the mask (B); the right button erases")
        self.act_eraser = a("&Eraser", self.toggle_eraser, "E", checkable=True, tip="Erase the mask (E toggles)")
        self.act_box = a("Face bo&x", lambda: self.set_tool("box"), "F", checkable=True,
                         tip="Drag a square around a face (F): used by face inpainting and face editing")
        group = QActionGroup(self)
        for act in (self.act_brush, self.act_eraser, self.act_box):
            group.addAction(act)
        self.act_brush.setChecked(True)
        self.act_bigger = a("Bigger brush", lambda: self.resize_brush(BRUSH_STEP), "]")
        self.act_smaller = a("Smaller brush", lambda: self.resize_brush(1 / BRUSH_STEP), "[")
        self.act_clear_mask = a("&Clear mask", self.clear_mask, "Ctrl+D")
        self.act_invert_mask = a("&Invert mask", self.invert_mask, "Ctrl+I")
        self.act_clear_box = a("Clear face box", lambda: canvas.set_box(None))
        self.act_load_mask = a("&Load mask…", lambda: self.load_mask())
        self.act_save_mask = a("E&xport mask…", self.export_mask)

        self.size_spin = QSpinBox(minimum=1, maximum=2000, suffix=" px")
        self.size_spin.setToolTip("Brush radius in image pixels ([ and ] change it)")
        self.size_spin.setValue(int(canvas.brush.radius))
        self.size_spin.valueChanged.connect(lambda v: self._set_brush(radius=float(v)))
        self.hardness_spin = QSpinBox(minimum=0, maximum=100, suffix=" %")
        self.hardness_spin.setToolTip("100 % = hard edge; lower feathers the edge")
        self.hardness_spin.setValue(int(round(canvas.brush.hardness * 100)))
        self.hardness_spin.valueChanged.connect(lambda v: self._set_brush(hardness=v / 100))
        canvas.boxChanged.connect(self._box_changed)

    # ================================================================ tools and brush
    def set_tool(self, tool: str) -> None:
        self.window.canvas.set_tool(tool)
        {"brush": self.act_brush, "eraser": self.act_eraser, "box": self.act_box}[tool].setChecked(True)
        if tool == "box":
            self.window.status("Drag a square around the face")

    def toggle_eraser(self) -> None:
        self.set_tool("brush" if self.window.canvas.tool == "eraser" else "eraser")

    def _set_brush(self, radius: float | None = None, hardness: float | None = None) -> None:
        canvas = self.window.canvas
        b = canvas.brush
        canvas.set_brush(Brush(b.radius if radius is None else radius, b.hardness if hardness is None else hardness))

    def resize_brush(self, factor: float) -> None:
        brush = self.window.canvas.brush
        r = int(round(brush.resized(factor).radius))
        if r == int(brush.radius):  # small brushes still change by at least a pixel
            r += 1 if factor > 1 else -1
        self.size_spin.setValue(max(1, r))

    def _box_changed(self, box) -> None:
        if box is None:
            self.window.status("Face box cleared")
        else:
            x, y, w, h = box
            self.window.status(f"Face box {w}×{h} at {x},{y}: face inpainting and face editing use it")

    # ================================================================ the mask itself
    def _set_mask(self, mask: np.ndarray, label: str) -> None:
        change = self.window.document.set_mask(mask, label)
        if change:
            self.window.refresh(change)

    def clear_mask(self) -> None:
        if self.window.document is not None:
            self._set_mask(np.zeros_like(self.window.document.mask), "Clear mask")

    def invert_mask(self) -> None:
        if self.window.document is not None:
            self._set_mask(255 - self.window.document.mask, "Invert mask")

    def load_mask(self, path: str | Path | None = None) -> None:
        from studio.imageio import load_mask

        doc = self.window.document
        if doc is None:
            return
        if not path:
            path, _ = QFileDialog.getOpenFileName(self.window, "Load mask (white = fill)", "", OPEN_FILTER)
        if not path:
            return
        try:
            mask, resized = load_mask(path, doc.size)
        except StudioError as e:
            dialogs.show_error(self.window, "Cannot load the mask", str(e))
            return
        self._set_mask(np.round(mask * 255).astype(np.uint8), "Load mask")
        if resized:
            self.window.status("The mask had another size; it was rescaled to the image")

    def export_mask(self) -> None:
        from studio.imageio import Picture

        doc = self.window.document
        if doc is None:
            return
        files = self.window.files
        path = files.ask_save_path("Export mask", files.suggest_path("-mask", ".png"))
        if path is None:
            return
        grey = np.repeat((doc.mask.astype(np.float32) / 255)[..., None], 3, axis=2)
        files.write(path, Picture(rgb=grey, was_gray=True), what="mask")
