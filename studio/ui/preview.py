"""A small live preview: an engine's 64x64 intermediate (z-search, attribute edits), enlarged."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from studio.ui.qimage import array_to_qimage

SIDE = 192  # on-screen size: 3x a 64x64 preview


class PreviewWidget(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.image = QLabel()
        self.image.setFixedSize(SIDE, SIDE)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setStyleSheet("background: #262628; border: 1px solid #444; color: #888;")
        self.caption = QLabel("Live preview")
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setStyleSheet("color: palette(mid);")
        layout.addWidget(self.image, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.caption)
        self.clear()
        self.shown: np.ndarray | None = None

    def show_array(self, rgb: np.ndarray, caption: str | None = None, *, tool: str | None = None,
                   job: int | None = None) -> None:
        """tool: the tool the preview belongs to; job: the job that made it (None: the tool's panel),
        so the window can clear a preview that no longer matches what is on the canvas."""
        self.shown, self.tool, self.job = rgb, tool, job
        pix = QPixmap.fromImage(array_to_qimage(np.asarray(rgb, np.float32)))
        # Nearest-neighbour keeps the 64x64 result honest instead of blurring it.
        self.image.setPixmap(pix.scaled(SIDE, SIDE, Qt.AspectRatioMode.KeepAspectRatio,
                                        Qt.TransformationMode.FastTransformation))
        if caption is not None:
            self.caption.setText(caption)

    def clear(self, caption: str = "Live preview") -> None:
        self.shown, self.tool, self.job = None, None, None
        self.image.clear()
        self.image.setText("no preview")
        self.caption.setText(caption)
