"""Conversions between the engines' arrays and what Qt draws.

Display buffers are HxWx4 uint8 numpy arrays that QImages wrap without copying (Qt's
RGB32 / ARGB32_Premultiplied byte order on little-endian machines is B, G, R, A), so the
canvas can update a rectangle of a 20 MP image in place.
"""

from __future__ import annotations

import sys

import numpy as np
from PySide6.QtGui import QImage

CHECKER = 8  # px squares behind transparent pixels
MASK_RGB = (230, 40, 40)
MASK_OPACITY = 0.5

if sys.byteorder != "little":  # pragma: no cover - every platform Qt ships for is little-endian
    raise ImportError("the canvas expects a little-endian machine")


def wrap(buf: np.ndarray, premultiplied: bool = False) -> QImage:
    """A QImage over an HxWx4 uint8 buffer (no copy: keep `buf` alive as long as the image)."""
    h, w = buf.shape[:2]
    fmt = QImage.Format.Format_ARGB32_Premultiplied if premultiplied else QImage.Format.Format_RGB32
    return QImage(buf.data, w, h, buf.strides[0], fmt)


def display_rgb(rgb: np.ndarray, alpha: np.ndarray | None = None, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """float HxWx3 [0,1] (+ alpha) -> HxWx4 uint8 B,G,R,255, transparency over a checkerboard.

    `origin` is the region's top-left in the image, so checker squares line up across patches.
    """
    h, w = rgb.shape[:2]
    out = np.empty((h, w, 4), np.uint8)
    if alpha is not None:
        y, x = np.ogrid[origin[1]:origin[1] + h, origin[0]:origin[0] + w]
        checker = np.where(((y // CHECKER) + (x // CHECKER)) % 2 == 0, 0.8, 0.6).astype(np.float32)
        a = alpha[..., None]
        rgb = rgb * a + checker[..., None] * (1.0 - a)
    t = np.clip(rgb, 0.0, 1.0)
    t *= 255.0
    t += 0.5
    out[..., 0] = t[..., 2]
    out[..., 1] = t[..., 1]
    out[..., 2] = t[..., 0]
    out[..., 3] = 255
    return out


def display_quantized(q: np.ndarray) -> np.ndarray:
    """uint8/uint16 HxWx3 -> HxWx4 uint8 B,G,R,255 (the compare view's 'before')."""
    if q.dtype == np.uint16:
        q = (q >> 8).astype(np.uint8)
    h, w = q.shape[:2]
    out = np.empty((h, w, 4), np.uint8)
    out[..., 0], out[..., 1], out[..., 2], out[..., 3] = q[..., 2], q[..., 1], q[..., 0], 255
    return out


def mask_lut(rgb: tuple[int, int, int] = MASK_RGB) -> np.ndarray:
    """mask value -> premultiplied B,G,R,A of the overlay in colour `rgb`, as one uint32 per value
    (one lookup per pixel instead of four)."""
    a = np.arange(256, dtype=np.float32) / 255 * MASK_OPACITY
    lut = np.zeros((256, 4), np.uint8)
    lut[:, 0] = np.round(rgb[2] * a)
    lut[:, 1] = np.round(rgb[1] * a)
    lut[:, 2] = np.round(rgb[0] * a)
    lut[:, 3] = np.round(255 * a)
    return lut.view(np.uint32).ravel()


_MASK_LUT32 = mask_lut()


def display_mask(mask: np.ndarray, lut: np.ndarray = _MASK_LUT32) -> np.ndarray:
    """uint8 HxW mask -> HxWx4 premultiplied translucent overlay (red unless `lut` says otherwise)."""
    h, w = mask.shape
    if not mask.any():
        return np.zeros((h, w, 4), np.uint8)  # calloc: free until painted
    return lut[mask].view(np.uint8).reshape(h, w, 4)


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


def qimage_to_arrays(img: QImage) -> tuple[np.ndarray, np.ndarray | None]:
    """Any QImage (e.g. from the clipboard) -> float32 rgb [0,1] and alpha (None if opaque)."""
    img = img.convertToFormat(QImage.Format.Format_RGBA8888)
    w, h = img.width(), img.height()
    raw = np.frombuffer(img.constBits(), np.uint8, count=img.sizeInBytes())
    arr = raw.reshape(h, img.bytesPerLine())[:, : 4 * w].reshape(h, w, 4)
    rgb = arr[..., :3].astype(np.float32) / 255.0
    alpha = None
    if img.hasAlphaChannel() and arr[..., 3].min() < 255:
        alpha = arr[..., 3].astype(np.float32) / 255.0
    return np.ascontiguousarray(rgb), alpha
