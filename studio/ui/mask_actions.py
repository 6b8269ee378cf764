"""The mask's actions: the brush, eraser, rectangle, lasso, object and face-box tools, the brush
size (diameter, as in GIMP and Krita) and hardness boxes, the mask colour, clear, invert, grow,
shrink, feather, detect damage, load and export the mask, clear the face box, and the face
box's status line.

Each change of the mask is one undo step of the document. Finding an object (GrabCut: 0.2-1 s),
detecting damage (~2 s on a big scan) and grow, shrink and feather (an object's mask on a 20 MP
photo: ~10 ms; a scan's damage mask spread over all of it: ~0.2 s) run on the worker, on a copy
of the mask; what they change is applied after any stroke painted meanwhile. Brush size,
hardness, mask colour and the last amounts asked for are remembered between launches.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QActionGroup, QColor, QIcon, QPixmap
from PySide6.QtWidgets import QColorDialog, QFileDialog, QSpinBox

from studio.editing.brush import MAX_SIZE, MIN_SIZE, Brush, combine
from studio.errors import StudioError
from studio.ui import dialogs, mask_dialogs
from studio.ui.file_actions import OPEN_FILTER

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow

BRUSH_STEP = 1.25  # [ and ] change the brush size by this factor
SHAPE_HINT = "adds to the mask; the right button or Ctrl subtracts"
EDGES = {"grow": ("&Grow mask…", "Grow mask", "Widen the mask by"),
         "shrink": ("S&hrink mask…", "Shrink mask", "Narrow the mask by"),
         "feather": ("&Feather mask…", "Feather mask", "Soften the mask's edge over")}


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
        # W as Photoshop's object selection.
        self.act_object = a("Select ob&ject", lambda: self.set_tool("object"), "W", checkable=True,
                            tip=f"Drag a box round an object or click on it (W): its outline {SHAPE_HINT}")
        self.act_box = a("Face bo&x", lambda: self.set_tool("box"), "F", checkable=True,
                         tip="Drag a square around a face (F): used by face inpainting and face editing")
        self.tool_actions = {"brush": self.act_brush, "eraser": self.act_eraser, "rect": self.act_rect,
                             "lasso": self.act_lasso, "object": self.act_object, "box": self.act_box}
        group = QActionGroup(self)
        for act in self.tool_actions.values():
            group.addAction(act)
        self.act_brush.setChecked(True)
        self.act_bigger = a("Bigger brush", lambda: self.resize_brush(BRUSH_STEP), "]")
        self.act_smaller = a("Smaller brush", lambda: self.resize_brush(1 / BRUSH_STEP), "[")
        self.act_clear_mask = a("&Clear mask", self.clear_mask, "Ctrl+D")
        self.act_invert_mask = a("&Invert mask", self.invert_mask, "Ctrl+I")
        self.edge_actions = [a(text, lambda _=False, k=kind: self.change_edge(k), tip=f"{ask} a number of pixels")
                             for kind, (text, _, ask) in EDGES.items()]
        self.act_damage = a("&Detect damage…", self.detect_damage,
                            tip="Propose a mask of the tears, scratches and dust of an old photo")
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
        canvas.objectRequested.connect(self.select_object)

    # ================================================================ tools and brush
    def set_tool(self, tool: str) -> None:
        self.window.canvas.set_tool(tool)
        self.tool_actions[tool].setChecked(True)
        hint = {"box": "Drag a square around the face", "rect": f"Drag a rectangle: it {SHAPE_HINT}",
                "object": f"Drag a box round an object, or click on it: its outline {SHAPE_HINT}",
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

    def _remembered(self) -> dict:
        return self.window.settings.tool_values("mask")

    def _remember(self, **values) -> None:
        self.window.settings.set_tool_values("mask", {**self._remembered(), **values})

    def change_edge(self, kind: str) -> bool:
        """Grow, shrink or feather the mask by a number of pixels the user gives: one undo step."""
        from studio.editing import mask_ops

        doc = self.window.document
        if doc is None:
            return False
        if not doc.has_mask():
            self.window.status("The mask is empty: paint or select something first")
            return False
        _, label, ask = EDGES[kind]
        last = self._remembered().get(kind, 4)
        px = mask_dialogs.ask_pixels(self.window, label, f"{ask} (pixels):",
                                     last if isinstance(last, int) else 4, mask_ops.MAX_PX)
        if px is None:
            return False
        self._remember(**{kind: px})
        old = doc.mask.copy()

        def done(new):
            # Only what the operation changed: strokes painted while it ran stay.
            self._set_mask(np.where(new != old, new, doc.mask), f"{label} {px} px")
            self.window.status(f"{label}: {px} px (Ctrl+Z undoes it)")

        return self.window.start_job(label, lambda job: getattr(mask_ops, kind)(old, px),
                                     lambda new: self._when_idle(doc, lambda: done(new)))

    def select_object(self, box, point, subtract: bool = False) -> bool:
        """Find the object in box (x, y, w, h) and/or at point on the worker; add its outline to
        the mask (or take it away) as one undo step."""
        from studio.editing import select_object as sel

        doc = self.window.document
        if doc is None:
            return False
        try:
            box = None if box is None else sel.check_box(box, doc.size)
            point = None if point is None else sel.check_point(point, doc.size)
        except StudioError:
            self.window.status("Drag the box over the image, or click on it")
            return False
        rgb = doc.picture.rgb  # the image is not changed while a job runs

        def work(job):
            job.progress(0.0, "finding the object's outline")
            return sel.select_object(rgb, box=box, point=point)

        return self.window.start_job("Selecting the object", work,
                                     lambda shape: self._when_idle(doc, lambda: self._add_shape(shape, subtract)))

    def _when_idle(self, doc, fn) -> None:
        """fn() once no stroke is being painted (a result landing mid-stroke would become part of
        the stroke's undo step); never when another image was opened meanwhile."""
        if self.window.document is not doc:
            return
        if doc.stroking:
            QTimer.singleShot(50, lambda: self._when_idle(doc, fn))
            return
        fn()

    def _add_shape(self, shape: np.ndarray, subtract: bool) -> None:
        doc = self.window.document
        if not shape.any():
            self.window.status("No object found there; drag a box that holds it whole")
            return
        mask = doc.mask.copy()
        combine(mask, shape, subtract)
        self._set_mask(mask, "Subtract object" if subtract else "Select object")
        self.window.status("Object " + ("taken away from" if subtract else "added to") + " the mask: "
                           "Mask > Grow takes in its edge")

    def detect_damage(self) -> bool:
        """Ask for the sensitivity, then propose a mask of the damage on the worker: one undo step."""
        doc = self.window.document
        if doc is None:
            return False
        known = self._remembered()
        last = mask_dialogs.DamageChoice(int(known.get("sensitivity", 50)), bool(known.get("tears", True)),
                                         bool(known.get("add", False)))
        choice = mask_dialogs.ask_damage(self.window, last)
        if choice is None:
            return False
        self._remember(sensitivity=choice.sensitivity, tears=choice.tears, add=choice.add)
        rgb = doc.picture.rgb

        def work(job):
            from studio.editing.damage import detect_damage

            job.progress(0.0, "looking for tears, scratches and dust")
            return detect_damage(rgb, choice.sensitivity / 100, tears=choice.tears)

        def done(found):
            mask = np.maximum(doc.mask, found) if choice.add else found
            self._set_mask(mask, f"Detect damage ({choice.sensitivity} %)")
            share = (found > 127).mean() * 100
            self.window.status(f"Damage proposed: {share:.1f} % of the image. Touch it up with the brush "
                               "(B; right button erases), then fill it with the Restore tool")

        return self.window.start_job("Detecting damage", work, lambda found: self._when_idle(doc, lambda: done(found)))

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
