"""Conversions between the engines' float arrays and QImage."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def array_to_qimage(rgb: np.ndarray, alpha: np.ndarray | None = None) -> QImage:
    """HxWx3 float32 [0,1] (+ optional HxW alpha) -> a QImage that owns its pixels."""
    rgb8 = np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    h, w = rgb8.shape[:2]
    if alpha is not None:
        a8 = np.round(np.clip(alpha, 0, 1) * 255).astype(np.uint8)[..., None]
        buf = np.ascontiguousarray(np.concatenate([rgb8, a8], -1))
        img = QImage(buf.data, w, h, 4 * w, QImage.Format.Format_RGBA8888)
    else:
        buf = np.ascontiguousarray(rgb8)
        img = QImage(buf.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return img.copy()  # detach from the numpy buffer
