"""Filling the mask with a shape: the rectangle and lasso tools (Qt-free, OpenCV).

A shape combines with the mask like a brush dab (added by maximum, taken away by minimum),
so drawing over painted parts never changes them and a subtraction leaves no rim.
Points are in image pixels with pixel (i, j) covering [i, i + 1) x [j, j + 1).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from studio.editing.brush import combine
from studio.editing.history import Rect

SHIFT = 4  # fillPoly's fractional bits: vertices keep 1/16 px, so zoomed-in lassos stay smooth


def fill_rect(mask: np.ndarray, p0: tuple[float, float], p1: tuple[float, float],
              erase: bool = False) -> Rect | None:
    """The pixels whose centres lie between the two corners; returns the rectangle touched."""
    h, w = mask.shape
    (x0, x1), (y0, y1) = sorted((p0[0], p1[0])), sorted((p0[1], p1[1]))
    x0, x1 = max(0, int(round(x0))), min(w, int(round(x1)))
    y0, y1 = max(0, int(round(y0))), min(h, int(round(y1)))
    if x0 >= x1 or y0 >= y1:
        return None
    region = mask[y0:y1, x0:x1]
    region[...] = 0 if erase else 255
    return x0, y0, x1 - x0, y1 - y0


def fill_polygon(mask: np.ndarray, points, erase: bool = False) -> Rect | None:
    """The inside of the closed polygon through `points` (antialiased edge); returns the rectangle touched."""
    if len(points) < 3:
        return None
    pts = np.asarray(points, np.float64)
    h, w = mask.shape
    x0, y0 = max(0, math.floor(pts[:, 0].min())), max(0, math.floor(pts[:, 1].min()))
    x1, y1 = min(w, math.ceil(pts[:, 0].max()) + 1), min(h, math.ceil(pts[:, 1].max()) + 1)
    if x0 >= x1 or y0 >= y1:
        return None
    shape = np.zeros((y1 - y0, x1 - x0), np.uint8)
    # OpenCV puts pixel centres on integers: shift by half a pixel, then into the local window.
    local = np.round((pts - (x0 + 0.5, y0 + 0.5)) * (1 << SHIFT)).astype(np.int32)
    cv2.fillPoly(shape, [local], 255, cv2.LINE_AA, shift=SHIFT)
    if not shape.any():
        return None
    combine(mask[y0:y1, x0:x1], shape, erase)
    return x0, y0, x1 - x0, y1 - y0
