"""The Restore/Inpaint and Upscale panels: options in, one background job, one history step out.

`host` is the main window: it owns the document, the job runner, the engines and the settings,
and applies results (see MainWindow.start_job / apply_step).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import (QComboBox, QFormLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from studio.engines.detail import STRENGTH as PHOTO_DETAIL
from studio.ui import history as hist
from studio.ui.engines import INPAINT_ENGINES

ENGINE_HELP = {
    "auto": "face engine when the mask lies on a detected face (or a face box is drawn), else photo/classic",
    "face": "GAN latent search on the face (64x64 model), blended back at full resolution",
    "photo": "feed-forward photo inpainting network",
    "classic": "OpenCV Telea: fast, no model",
}


def _hint(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: palette(mid);")
    return label


class InpaintPanel(QWidget):
    def __init__(self, host, parent=None):
        super().__init__(parent)
        self.host = host
        layout = QVBoxLayout(self)
        layout.addWidget(_hint("Paint over what should be filled (left button; right button or E erases), "
                               "then fill. For faces you may drag a face box (F)."))
        form = QFormLayout()
        self.engine = QComboBox()
        for i, name in enumerate(INPAINT_ENGINES):
            self.engine.addItem(name)
            self.engine.setItemData(i, ENGINE_HELP[name], 3)  # 3 = Qt.ToolTipRole
        self.engine.setCurrentText(host.settings.inpaint_engine)
        form.addRow("Engine:", self.engine)
        self.steps = QSpinBox(minimum=0, maximum=5000, singleStep=50)
        self.steps.setSpecialValueText("default")
        self.steps.setToolTip("Latent search steps (face engine); more is slower and can be sharper")
        form.addRow("Steps:", self.steps)
        self.seed = QSpinBox(minimum=-1, maximum=2**31 - 1)
        self.seed.setValue(-1)
        self.seed.setSpecialValueText("random")
        self.seed.setToolTip("Same seed, same result")
        form.addRow("Seed:", self.seed)
        self.detail = QSpinBox(minimum=0, maximum=100, singleStep=10, suffix=" %")
        self.detail.setValue(round(PHOTO_DETAIL * 100))
        self.detail.setToolTip("Photo engine: texture copied from similar parts of the photo into the fill. "
                               "0 % gives the network's smooth fill; more looks sharper but strays further "
                               "from what was there")
        form.addRow("Detail:", self.detail)
        layout.addLayout(form)
        self.engine.currentTextChanged.connect(self._engine_changed)
        self._engine_changed(self.engine.currentText())
        self.run_button = QPushButton("Fill masked area")
        self.run_button.clicked.connect(self.run)
        layout.addWidget(self.run_button)
        layout.addStretch(1)

    def _engine_changed(self, name: str) -> None:
        """Only the settings the chosen engine reads are enabled (auto may pick either network)."""
        self.steps.setEnabled(name in ("auto", "face"))
        self.detail.setEnabled(name in ("auto", "photo"))

    def options(self) -> dict:
        """The settings for the chosen engine; the ones it ignores are None, so changing them
        does not rebuild a cached engine."""
        engine = self.engine.currentText()
        return dict(engine=engine, steps=(self.steps.value() or None) if self.steps.isEnabled() else None,
                    seed=None if self.seed.value() < 0 else self.seed.value(),
                    detail=self.detail.value() / 100 if self.detail.isEnabled() else None)

    def run(self) -> bool:
        doc = self.host.document
        if doc is None:
            self.host.status("Open an image first")
            return False
        if not doc.has_mask():
            self.host.status("Paint the area to fill first (left mouse button on the image)")
            return False
        opts = self.options()
        device, engines, box = self.host.settings.device, self.host.engines, doc.face_box
        rgb, mask8, bits = doc.picture.rgb, doc.mask.copy(), doc.bit_depth  # the mask may change while it runs

        def work(job):
            job.progress(0.0, f"loading the {opts['engine']} engine")
            engine = engines.inpainter(opts["engine"], device, opts["steps"], opts["seed"], box, opts["detail"])
            out = engine.run(rgb, mask8.astype(np.float32) * np.float32(1 / 255), job)
            choice = getattr(engine, "last_choice", "") or getattr(engine, "name", opts["engine"])
            step = hist.image_step(f"Inpaint ({choice})", hist.quantize(rgb, bits), hist.quantize(out, bits))
            return step, choice

        def done(result):
            step, choice = result
            if step is not None:
                # The filled mask goes with the fill (one step: undo brings both back), so the
                # result is seen at once and a new mask starts clean.
                doc = self.host.document
                cleared = hist.mask_step("", doc.mask, np.zeros_like(doc.mask))
                if cleared is not None:
                    step.patches += cleared.patches
            self.host.apply_step(step, f"Filled with the {choice} engine" if step else "The fill changed nothing",
                                 tool="inpaint")

        return self.host.start_job("Inpainting", work, done)


class UpscalePanel(QWidget):
    def __init__(self, host, parent=None):
        super().__init__(parent)
        self.host = host
        layout = QVBoxLayout(self)
        layout.addWidget(_hint("4x super-resolution (SRGAN). Large images are processed in tiles; "
                               "smaller tiles use less memory."))
        self.missing = _hint("")
        layout.addWidget(self.missing)
        form = QFormLayout()
        self.model = QComboBox()
        form.addRow("Model:", self.model)
        self.tile = QSpinBox(minimum=0, maximum=2048, singleStep=32)
        self.tile.setSpecialValueText("auto")
        self.tile.setSuffix(" px")
        form.addRow("Tile size:", self.tile)
        layout.addLayout(form)
        self.size_label = _hint("")
        layout.addWidget(self.size_label)
        self.run_button = QPushButton("Upscale 4×")
        self.run_button.clicked.connect(self.run)
        layout.addWidget(self.run_button)
        layout.addStretch(1)
        self.refresh()

    def refresh(self) -> None:
        """Re-read installed models (start-up, models folder changed)."""
        from studio.ui.engines import upscale_models

        current = self.model.currentText()
        names = upscale_models()
        self.model.clear()
        self.model.addItems(names)
        if current in names:
            self.model.setCurrentText(current)
        elif "srgan" in names:
            self.model.setCurrentText("srgan")
        self.missing.setText("" if names else "No upscaling model is installed (a checkpoint whose card says "
                             "'srresnet'). Upscaling is disabled.")
        self.missing.setVisible(not names)
        for w in (self.model, self.tile, self.run_button):
            w.setEnabled(bool(names))
        self.update_size()

    def update_size(self) -> None:
        doc = self.host.document
        if doc is None:
            self.size_label.setText("")
            return
        w, h = doc.size
        self.size_label.setText(f"{w}×{h} → {4 * w}×{4 * h}")

    def run(self) -> bool:
        from studio.imageio import max_pixels, resize_alpha

        doc = self.host.document
        if doc is None:
            self.host.status("Open an image first")
            return False
        if not self.model.currentText():
            self.host.status("No upscaling model is installed")
            return False
        w, h = doc.size
        if 16 * w * h > max_pixels():
            self.host.status(f"A 4x upscale of {w}×{h} would be {16 * w * h / 1e6:.0f} MP, over the "
                             f"{max_pixels() / 1e6:g} MP limit; crop or shrink the image first")
            return False
        model, tile, device = self.model.currentText(), self.tile.value() or None, self.host.settings.device
        engines, rgb, alpha, bits = self.host.engines, doc.picture.rgb, doc.picture.alpha, doc.bit_depth

        def work(job):
            job.progress(0.0, f"loading {model}")
            engine = engines.upscaler(model, device, tile)
            out = engine.run(rgb, job)
            oh, ow = out.shape[:2]
            new_alpha = resize_alpha(alpha, (ow, oh)) if alpha is not None else None
            return hist.quantize(out, bits), new_alpha, hist.quantize(rgb, bits)

        def done(result):
            after_q, new_alpha, before_q = result
            step = self.host.document.resize_step(f"Upscale 4× ({model})", after_q, new_alpha, before_q)
            oh, ow = after_q.shape[:2]
            self.host.apply_step(step, f"Upscaled to {ow}×{oh} with {model}", tool="upscale")

        return self.host.start_job("Upscaling", work, done)
