"""The panel protocol, the typed host a panel may use, and the generic panel every tool of the
catalogue gets unless it names its own.

The generic panel shows the tool's options (built from its options class), a model list when
the tool takes checkpoints, and one button; a run is one background job that ends as one undo
step: the image changed in place, or a new size (with alpha and mask scaled along). A tool that
reads the mask gets the filled mask cleared in the same step, so undo brings both back. A tool
whose options have `variants` and whose engine has `run_variants` gets a bar to flip between
the results of a run (studio/ui/variants.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
from PySide6.QtWidgets import QComboBox, QLabel, QPushButton, QVBoxLayout, QWidget

from studio import catalogue
from studio.catalogue import Tool
from studio.editing import history as hist
from studio.editing.document import Document
from studio.errors import StudioError
from studio.model_cache import ModelCache
from studio.ui.options_form import OptionsForm
from studio.ui.variants import NEXT_KEY, Variants, VariantsBar, variant_crops

if TYPE_CHECKING:
    from studio.ui.settings import Settings
    from studio.ui.worker import JobRunner


class Host(Protocol):
    """What a panel may use of the window, and nothing else."""

    document: Document | None
    runner: JobRunner
    cache: ModelCache
    settings: Settings

    def status(self, text: str, ms: int = 8000) -> None: ...
    def show_preview(self, rgb, caption: str) -> None: ...
    def clear_preview(self) -> None: ...
    def show_job_error(self, title: str, error: BaseException, details: str = "") -> None: ...
    def show_face_box(self, box) -> None: ...
    def start_job(self, name: str, fn, on_result, *, latest: str | None = None) -> bool: ...
    def apply_step(self, step, message: str, tool: str = "") -> None: ...
    def replace_step(self, old, new, message: str) -> bool: ...


class Panel(Protocol):
    """What the window asks of a tool panel (a QWidget)."""

    tool: Tool

    def run(self) -> bool: ...  # the tool's menu action
    def refresh(self) -> None: ...  # the device or models folder changed: re-read what is installed
    def document_changed(self) -> None: ...  # another image, or a new size
    def follow_step(self, step, undo: bool | None) -> None: ...  # an image step applied (None), undone, redone


def hint(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: palette(mid);")
    return label


class ToolPanel(QWidget):
    def __init__(self, tool: Tool, host: Host, parent=None):
        super().__init__(parent)
        self.tool, self.host = tool, host
        layout = QVBoxLayout(self)
        layout.addWidget(hint(tool.hint))
        self.missing = hint("")
        layout.addWidget(self.missing)
        self.model = QComboBox()
        self.form = OptionsForm(tool.options)
        if tool.architectures:
            self.form.layout().insertRow(0, "Model:", self.model)
        self.form.restore(host.settings.tool_values(tool.name))
        # Remembered as they change, so the next session starts where this one left off.
        self.form.changed.connect(self._remember)
        layout.addWidget(self.form)
        self.size_label = hint("")
        layout.addWidget(self.size_label)
        self.run_button = QPushButton(tool.action.replace("&", ""))  # no access key: Alt+F is the File menu
        self.run_button.clicked.connect(self.run)
        layout.addWidget(self.run_button)
        self.variants = VariantsBar(host) if "variants" in self.form.field_names else None
        if self.variants is not None:
            layout.addWidget(self.variants)
        layout.addStretch(1)
        self.refresh()
        self.model.currentTextChanged.connect(lambda _: self.document_changed())  # a 2x model: another size

    def _remember(self, name: str) -> None:
        """Store one changed value (others stored, e.g. by the Settings dialog, stay as they are)."""
        values = self.host.settings.tool_values(self.tool.name)
        self.host.settings.set_tool_values(self.tool.name, {**values, name: self.form.value(name)})

    # ------------------------------------------------------------ the protocol
    def refresh(self) -> None:
        """Re-read installed models (start-up, models folder changed)."""
        current = self.model.currentText()
        names = catalogue.installed_models(self.tool) if self.tool.architectures else []
        self.model.clear()
        self.model.addItems(names)
        self.model.setCurrentText(current if current in names else self.tool.model or "")
        reason = catalogue.unavailable(self.tool)
        self.missing.setText(reason or "")
        self.missing.setVisible(bool(reason))
        for w in (self.model, self.form, self.run_button):
            w.setEnabled(reason is None)
        self.document_changed()

    def scale(self) -> int:
        """How many times larger the result is: the tool's scale, or the chosen community
        model's own (2x, 8x ...; detected once per file by loading it)."""
        s = self.tool.scale
        name = self.model.currentText() if self.tool.architectures else ""
        if s == 1 or not name:
            return s
        from studio.checkpoints import find_checkpoint

        try:
            info = find_checkpoint(name)
            if info.architecture == "community":
                from studio import community

                return community.scale_of(info.weights)
        except (StudioError, OSError):  # an unusable file: the run will say why
            pass
        return s

    def document_changed(self) -> None:
        doc, s = self.host.document, self.scale()
        if self.variants is not None:
            self.variants.sync()
        if doc is None or s == 1:
            self.size_label.setText("")
            return
        w, h = doc.size
        self.size_label.setText(f"{w}×{h} → {s * w}×{s * h}")

    def follow_step(self, step, undo: bool | None = None) -> None:
        """Each run starts from the image as it is; the variants bar shows while its result is the last."""
        if self.variants is not None:
            self.variants.sync()

    # ------------------------------------------------------------ running
    def options(self):
        doc = self.host.document
        fixed = {"box": doc.face_box} if doc is not None and "box" in self.form.field_names else {}
        return self.form.options(**fixed)

    def _refuse(self) -> str | None:
        """Why the tool cannot run on the document now, or None."""
        from studio.imageio import format_pixels, max_pixels

        doc, s = self.host.document, self.scale()
        if doc is None:
            return "Open an image first"
        if self.tool.mask and not doc.has_mask():
            return "Paint the area to fill first (left mouse button on the image)"
        if self.tool.architectures and not self.model.currentText():
            return f"No {self.tool.title.lower()} model is installed"
        w, h = doc.size
        if s * s * w * h > max_pixels():
            return (f"The result of {w}×{h} would be {format_pixels(s * s * w * h)}, over the limit of "
                    f"{format_pixels(max_pixels())}; crop or shrink the image first")
        return None

    def run(self) -> bool:
        from studio.imageio import resize_alpha

        why = self._refuse()
        if why is not None:
            self.host.status(why)
            return False
        try:
            options = self.options()
        except StudioError as e:
            self.host.status(str(e))
            return False
        doc, tool = self.host.document, self.tool
        model = self.model.currentText() or None if tool.architectures else None
        device, cache = self.host.settings.device, self.host.cache
        scale = self.scale()
        # The image is not changed while a job runs; the mask may be, so the job takes a copy.
        rgb, alpha, bits = doc.picture.rgb, doc.picture.alpha, doc.bit_depth
        mask = doc.mask.astype(np.float32) * np.float32(1 / 255) if tool.mask else None

        def work(job):
            job.progress(0.0, f"loading {model}" if model else "loading the engine")
            engine = cache.engine(tool.name, model, device)
            outs = catalogue.run_engine(engine, rgb, mask, options, job)
            what = "; ".join(([model] if model else []) + job.notes) or tool.title
            before, after = hist.quantize(rgb, bits), hist.quantize(outs[0], bits)
            if len(outs) > 1:
                return what, variant_crops(before, [after, *(hist.quantize(o, bits) for o in outs[1:])])
            out = outs[0]
            if out.shape[:2] != rgb.shape[:2]:
                new_alpha = resize_alpha(alpha, (out.shape[1], out.shape[0])) if alpha is not None else None
                return what, (after, new_alpha, before)
            return what, hist.image_step(f"{tool.step_label} ({what})", before, after)

        def done(result):
            what, step = result
            doc = self.host.document
            cleared = hist.mask_step("", doc.mask, np.zeros_like(doc.mask)) if tool.mask else None
            h, w = doc.size[1], doc.size[0]
            message = tool.done.format(what=what, title=tool.title, size=f"{w * scale}×{h * scale}")
            if isinstance(step, Variants):  # the first applied; the bar flips to the others
                n = len(step.afters)
                step = self.variants.offer(step, f"{tool.step_label} ({what})", cleared.patches if cleared else [])
                message += f". Variant 1 of {n}: {NEXT_KEY} shows the next"
            elif isinstance(step, tuple):
                step = doc.resize_step(f"{tool.step_label} ({what})", *step)
            elif step is not None and cleared is not None:
                step.patches += cleared.patches
            self.host.apply_step(step, message if step else f"{tool.title}: the result changed nothing",
                                 tool=tool.name)

        return self.host.start_job(tool.job, work, done)
