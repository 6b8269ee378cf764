"""The mask's actions: the brush, eraser, rectangle, lasso and face-box tools, the brush size
(diameter, as in GIMP and Krita) and hardness boxes, the mask colour, clear, invert, load and
export the mask, clear the face box, and the face box's status line.

Each change of the mask is one undo step of the document. Brush size, hardness and mask colour
are remembered between launches.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtGui import QActionGroup, QColor, QIcon, QPixmap
from PySide6.QtWidgets import QColorDialog, QFileDialog, QSpinBox

from studio.editing.brush import MAX_SIZE, MIN_SIZE, Brush
from studio.errors import StudioError
from studio.ui import dialogs
from studio.ui.file_actions import OPEN_FILTER

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow

BRUSH_STEP = 1.25  # [ and ] change the brush size by this factor
SHAPE_HINT = "adds to the mask; the right button or Ctrl subtracts"


class MaskActions(QObject):
    """The Mask menu's actions, the toolbar's brush boxes and their slots. Of the window it uses:
    document, canvas, refresh, status, add_action, settings and files (the save dialog and writer)."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window
        canvas = window.canvas
        a = window.add_action
        self.act_brush = a("&Brush", lambda: self.set_tool("brush"), "B", checkable=True,
                           tip="Paint the mask (B); the right button or Ctrl erases")
        self.act_eraser = a("&Eraser", self.toggle_eraser, "E", checkable=True, tip="Erase the mask (E toggles)")
        # R as GIMP's rectangle select; GIMP's F (free select) is the face box here, so L as Photoshop's lasso.
        self.act_rect = a("&Rectangle", lambda: self.set_tool("rect"), "R", checkable=True,
                          tip=f"Drag a rectangle (R): {SHAPE_HINT}")
        self.act_lasso = a("&Lasso", lambda: self.set_tool("lasso"), "L", checkable=True,
                           tip=f"Draw around an area (L); releasing closes it: {SHAPE_HINT}")
        self.act_box = a("Face bo&x", lambda: self.set_tool("box"), "F", checkable=True,
                         tip="Drag a square around a face (F): used by face inpainting and face editing")
        self.tool_actions = {"brush": self.act_brush, "eraser": self.act_eraser, "rect": self.act_rect,
                             "lasso": self.act_lasso, "box": self.act_box}
        group = QActionGroup(self)
        for act in self.tool_actions.values():
            group.addAction(act)
        self.act_brush.setChecked(True)
        self.act_bigger = a("Bigger brush", lambda: self.resize_brush(BRUSH_STEP), "]")
        self.act_smaller = a("Smaller brush", lambda: self.resize_brush(1 / BRUSH_STEP), "[")
        self.act_clear_mask = a("&Clear mask", self.clear_mask, "Ctrl+D")
        self.act_invert_mask = a("&Invert mask", self.invert_mask, "Ctrl+I")
        self.act_clear_box = a("Clear face box", lambda: canvas.set_box(None))
        self.act_load_mask = a("L&oad mask…", lambda: self.load_mask())
        self.act_save_mask = a("E&xport mask…", self.export_mask)
        self.act_mask_color = a("Mask colo&ur…", self.choose_mask_color, tip="The colour the mask is shown in")

        settings = window.settings
        self.size_spin = QSpinBox(minimum=MIN_SIZE, maximum=MAX_SIZE, suffix=" px")
        self.size_spin.setToolTip("Brush diameter in image pixels ([ and ] change it)")
        self.size_spin.setValue(settings.brush_size)
        self.size_spin.valueChanged.connect(self._size_changed)
        self.hardness_spin = QSpinBox(minimum=0, maximum=100, suffix=" %")
        self.hardness_spin.setToolTip("100 % = hard edge; lower feathers the edge")
        self.hardness_spin.setValue(settings.brush_hardness)
        self.hardness_spin.valueChanged.connect(self._hardness_changed)
        canvas.set_brush(Brush(self.size_spin.value() / 2, self.hardness_spin.value() / 100))
        self.set_mask_color(QColor(settings.mask_color), remember=False)
        canvas.boxChanged.connect(self._box_changed)

    # ================================================================ tools and brush
    def set_tool(self, tool: str) -> None:
        self.window.canvas.set_tool(tool)
        self.tool_actions[tool].setChecked(True)
        hint = {"box": "Drag a square around the face", "rect": f"Drag a rectangle: it {SHAPE_HINT}",
                "lasso": f"Draw around an area; releasing the button closes the shape: it {SHAPE_HINT}"}.get(tool)
        if hint:
            self.window.status(hint)

    def toggle_eraser(self) -> None:
        self.set_tool("brush" if self.window.canvas.tool == "eraser" else "eraser")

    def _size_changed(self, diameter: int) -> None:
        canvas = self.window.canvas
        canvas.set_brush(Brush(diameter / 2, canvas.brush.hardness))
        self.window.settings.brush_size = diameter

    def _hardness_changed(self, percent: int) -> None:
        canvas = self.window.canvas
        canvas.set_brush(Brush(canvas.brush.radius, percent / 100))
        self.window.settings.brush_hardness = percent

    def resize_brush(self, factor: float) -> None:
        d = self.size_spin.value()
        new = int(round(d * factor))
        if new == d:  # small brushes still change by at least a pixel
            new += 1 if factor > 1 else -1
        self.size_spin.setValue(new)  # the box keeps it within bounds

    def choose_mask_color(self) -> None:
        color = QColorDialog.getColor(QColor(self.window.settings.mask_color), self.window, "Mask colour")
        if color.isValid():
            self.set_mask_color(color)

    def set_mask_color(self, color: QColor, remember: bool = True) -> None:
        self.window.canvas.set_mask_color(color)
        swatch = QPixmap(16, 16)
        swatch.fill(color)
        self.act_mask_color.setIcon(QIcon(swatch))
        if remember:
            self.window.settings.mask_color = color.name()

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
        path = files.ask_target("Export mask", files.suggest_path("-mask", ".png"))
        if path is None:
            return
        grey = np.repeat((doc.mask.astype(np.float32) / 255)[..., None], 3, axis=2)
        if files.write(path, Picture(rgb=grey, was_gray=True), what="mask"):
            doc.mark_mask_saved()  # the mask is kept; the image's own state stays as it was
            self.window.update_actions()
