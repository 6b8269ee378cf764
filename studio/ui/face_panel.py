"""Face attributes (IcGAN): one slider per attribute, a live 64x64 preview, full renders.

Flow: "Find face" encodes the face (a job: loads the editor, detects or takes the face box)
into a session whose start values set the sliders. Dragging asks the worker for previews and
releasing a slider (or Apply) renders at full resolution as one undoable step; both go to the
job runner with `latest=`, so one is in flight at most and only the newest request waits:
the UI never queues up stale work. Each render is absolute (the encoded photo with these
values), not stacked on the last. Reset puts back the face region as it was when encoded.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QGridLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSlider,
                               QVBoxLayout, QWidget)

from studio import catalogue
from studio.catalogue import EditOptions, Tool
from studio.editing import history as hist
from studio.editing.history import Patch, Step
from studio.errors import StudioError
from studio.ui.tool_panel import Host

SLIDER_SCALE = 100  # slider units per attribute unit
RANGE = 2.0
NOTHING_TO_APPLY = "Find a face and move the sliders you want applied to every photo"


def _clip_rect(box, size) -> tuple[int, int, int, int] | None:
    x, y, w, h = box
    x0, y0, x1, y1 = max(0, x), max(0, y), min(size[0], x + w), min(size[1], y + h)
    return (x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None


class FacePanel(QWidget):
    changed = Signal()  # the settings a batch would use (sliders, Subtle, the session) changed

    def __init__(self, tool: Tool, host: Host, parent=None):
        super().__init__(parent)
        self.tool, self.host = tool, host
        self.session = None
        self.attributes: list[str] = []
        self.start_values: dict[str, float] = {}
        self.sliders: dict[str, QSlider] = {}
        self.value_labels: dict[str, QLabel] = {}
        self._applied: dict[str, float] = {}
        self._base: tuple[tuple[int, int, int, int], np.ndarray] | None = None  # reset target
        layout = QVBoxLayout(self)
        self.message = QLabel()
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self.find_button = QPushButton("Find face")
        self.find_button.setToolTip("Encode the face (uses the face box if you drew one, else detects it)")
        self.find_button.clicked.connect(self.find_face)
        layout.addWidget(self.find_button)
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setColumnStretch(1, 1)  # the sliders get the width
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.grid_host)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setVisible(False)  # until a face is found
        self.scroll = scroll
        layout.addWidget(scroll, 10)
        self.subtle = QCheckBox("Subtle: keep the photo's own face")
        self.subtle.setToolTip("Add only the change the generator makes to your photo: more of the person stays, "
                               "but edits are fainter. Off: where an edit changes the face a lot (new glasses, "
                               "another hair colour) the generated pixels are used.")
        self.subtle.toggled.connect(lambda _on: self.request_preview())
        layout.addWidget(self.subtle)
        layout.addStretch(1)
        row = QHBoxLayout()
        self.apply_button = QPushButton("Apply")
        self.apply_button.clicked.connect(self.apply)
        self.reset_button = QPushButton("Reset")
        self.reset_button.clicked.connect(self.reset)
        row.addWidget(self.apply_button)
        row.addWidget(self.reset_button)
        layout.addLayout(row)
        self.unavailable: str | None = None
        self._doc = None  # the document the session was encoded from
        self.refresh()

    # ------------------------------------------------------------ the panel protocol
    def refresh(self) -> None:
        """Check (from files only, no torch) whether editing can run at all."""
        self.unavailable = catalogue.unavailable(self.tool, self.tool.model)  # the panel has no model choice
        self.end_session()
        self.setEnabled(True)
        if self.unavailable:
            self.message.setText(self.unavailable)
        self.find_button.setEnabled(self.unavailable is None)

    def run(self) -> bool:
        return self.find_face()

    def document_changed(self) -> None:
        """Another image or a new size: the encoded face no longer matches it."""
        resized = self.session is not None and self.host.document is self._doc
        self.end_session("The image size changed: find the face again to edit it." if resized else None)

    def end_session(self, why: str | None = None) -> None:
        if self.session is not None:
            self.host.clear_preview()  # its 64x64 face no longer matches anything
        self.session = None
        self._base = None
        for key in ("preview", "render"):  # requests for the old face are no use now
            self.host.runner.drop_waiting(key)
        for i in reversed(range(self.grid.count())):
            self.grid.itemAt(i).widget().deleteLater()
        self.sliders.clear()
        self.value_labels.clear()
        self.apply_button.setEnabled(False)
        self.reset_button.setEnabled(False)
        self.scroll.setVisible(False)
        self.subtle.setVisible(False)
        self.changed.emit()
        if not self.unavailable:
            self.message.setText(why or "Find the face to edit its attributes. Draw a face box (F) "
                                 "if the face is not found.")

    # ------------------------------------------------------------ encode
    def find_face(self) -> bool:
        doc = self.host.document
        if doc is None:
            self.host.status("Open an image first")
            return False
        device, cache, rgb, bits = self.host.settings.device, self.host.cache, doc.picture.rgb, doc.bit_depth
        options = EditOptions(box=doc.face_box)
        self._doc = doc

        def work(job):
            job.progress(0.0, "loading the face editor")
            editor = cache.engine(self.tool.name, None, device)
            session = editor.encode(rgb, job.span(0.1, 1.0), options)
            rect = _clip_rect(session.box, (rgb.shape[1], rgb.shape[0]))
            base = None
            if rect is not None:
                x, y, w, h = rect
                base = (rect, hist.quantize(rgb[y:y + h, x:x + w], bits))
            return list(editor.attributes), session, base

        return self.host.start_job("Finding the face", work, self._encoded)

    def _encoded(self, result) -> None:
        attributes, session, base = result
        self.end_session()
        self.session, self.attributes, self._base = session, attributes, base
        self.start_values = {a: float(session.values.get(a, 0.0)) for a in attributes}
        self._applied = dict(self.start_values)  # what the photo shows now
        for i, name in enumerate(attributes):
            label = QLabel(name.replace("_", " "))
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(int(-RANGE * SLIDER_SCALE), int(RANGE * SLIDER_SCALE))
            slider.setValue(int(round(np.clip(self.start_values[name], -RANGE, RANGE) * SLIDER_SCALE)))
            slider.valueChanged.connect(lambda _v, n=name: self._changed(n))
            slider.sliderReleased.connect(self.apply)
            value = QLabel()
            value.setMinimumWidth(40)
            self.grid.addWidget(label, i, 0)
            self.grid.addWidget(slider, i, 1)
            self.grid.addWidget(value, i, 2)
            self.sliders[name], self.value_labels[name] = slider, value
            self._show_value(name)
        self.apply_button.setEnabled(True)
        self.reset_button.setEnabled(True)
        self.scroll.setVisible(True)
        self.subtle.setVisible(True)
        if self.host.document is not None and self.host.document.face_box is None:
            self.host.show_face_box(tuple(int(v) for v in session.box))  # show which face it found
        x, y, w, h = session.box
        self.message.setText(f"Face at {x},{y} ({w}×{h}). Drag a slider for a live preview; release or "
                             "Apply renders it on the photo. Making a hair colour present removes the "
                             "others (bald removes bangs and hair styles) unless you set them too.")
        self.request_preview()
        self.host.status(f"Face found: {len(attributes)} attributes")

    # ------------------------------------------------------------ values
    def values(self) -> dict[str, float]:
        """Slider values; a slider left at its start gives the exact start value, so the engine
        sees it as unmoved (no change from rounding, and its links still apply)."""
        out = {}
        for n, s in self.sliders.items():
            start = self.start_values[n]
            at_start = s.value() == int(round(np.clip(start, -RANGE, RANGE) * SLIDER_SCALE))
            out[n] = start if at_start else s.value() / SLIDER_SCALE
        return out

    def set_values(self, values: dict[str, float]) -> None:
        """Move sliders without a preview per slider (one preview afterwards)."""
        for n, v in values.items():
            s = self.sliders[n]
            s.blockSignals(True)
            s.setValue(int(round(v * SLIDER_SCALE)))
            s.blockSignals(False)
            self._show_value(n)
        self.request_preview()

    def _show_value(self, name: str) -> None:
        self.value_labels[name].setText(f"{self.sliders[name].value() / SLIDER_SCALE:+.2f}")

    def _changed(self, name: str) -> None:
        self._show_value(name)
        self.request_preview()

    # ------------------------------------------------------------ preview and render (latest wins)
    def request_preview(self) -> None:
        self.changed.emit()  # every slider or Subtle change comes through here
        if self.session is None:
            return
        session, values, transfer = self.session, self.values(), self.transfer()
        self.host.runner.start("preview", lambda job: session.preview(values, transfer), self._previewed,
                               on_error=self._preview_failed, background=True, latest="preview")

    def options(self) -> EditOptions:
        """The edit as a batch applies it to other photos: each moved slider as an absolute value
        (like `studio edit --set`), unmoved ones left to each photo; box None (each finds its face)."""
        values = self.values() if self.session is not None else {}
        changes = tuple((n, v) for n, v in values.items() if v != self.start_values[n])
        if not changes:
            raise StudioError(NOTHING_TO_APPLY)
        return EditOptions(changes=changes, transfer=self.transfer())

    def transfer(self) -> str:
        """How the edit reaches the photo (the engine's transfer names)."""
        return "delta" if self.subtle.isChecked() else "local"

    def _previewed(self, rgb) -> None:
        self.host.show_preview(rgb, "Attribute preview (64×64)", self.tool.name)

    def _preview_failed(self, error, details) -> None:
        self.host.show_job_error("Preview failed", error, details)

    def apply(self) -> bool:
        if self.session is None:
            return False
        values, transfer = self.values(), self.transfer()
        session, bits, rgb = self.session, self.host.document.bit_depth, self.host.document.picture.rgb

        def work(job):
            # rgb is the document's own array: when a waiting render runs, the last one is applied.
            out = session.render(values, job, transfer)
            step = hist.image_step("Edit face attributes", hist.quantize(rgb, bits), hist.quantize(out, bits))
            if step is not None:
                step.tag = {"face_session": session, "values": values}
            return step

        return self.host.start_job(self.tool.job, work, self._rendered, latest="render")

    def _rendered(self, step) -> None:
        if step is not None:
            self._cover_base(step)
            step.tag["before"] = dict(self._applied)
            self._applied = dict(step.tag["values"])
        self.host.apply_step(step, "Face attributes applied" if step else "The edit changed nothing", tool="edit")

    def _cover_base(self, step: Step) -> None:
        """Keep the reset target covering every pixel a render changed (grow it if needed)."""
        rect = step.patches[0].rect
        if self._base is None:
            self._base = (rect, step.patches[0].before.copy())
            return
        (bx, by, bw, bh), base = self._base
        x, y, w, h = rect
        if bx <= x and by <= y and x + w <= bx + bw and y + h <= by + bh:
            return
        ux, uy = min(bx, x), min(by, y)
        uw, uh = max(bx + bw, x + w) - ux, max(by + bh, y + h) - uy
        grown = self.host.document.quantized_region((ux, uy, uw, uh))  # untouched by renders outside base
        grown[by - uy:by - uy + bh, bx - ux:bx - ux + bw] = base
        self._base = ((ux, uy, uw, uh), grown)

    def reset(self) -> None:
        if self.session is None:
            return
        self.set_values(self.start_values)
        if self._base is None:
            return
        rect, base = self._base
        current = self.host.document.quantized_region(rect)
        if np.array_equal(current, base):
            return
        step = Step("Reset face attributes", [Patch("image", rect, current, base.copy())],
                    tag={"face_session": self.session, "values": dict(self.start_values), "before": self._applied})
        self._applied = dict(self.start_values)
        self.host.apply_step(step, "Face put back as it was", tool="edit")

    def follow_step(self, step: Step, undo: bool | None = None) -> None:
        """An image step was applied (undo None), undone or redone. A step of another tool, or
        of an older session, ends the session: renders start from the photo as encoded, which
        would bring that change back or lose it. Undo/redo of this session's own steps moves
        the sliders to what the photo now shows."""
        if self.session is None or not step.changes_image:
            return
        tag = step.tag or {}
        if tag.get("face_session") is not self.session:
            self.end_session("The image changed: find the face again to edit it.")
        elif undo is not None:
            self._applied = dict(tag["before"] if undo else tag["values"])
            self.set_values(self._applied)
