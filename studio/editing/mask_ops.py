"""Whole-mask operations: grow, shrink and feather by a number of pixels (Qt-free, OpenCV).

Masks are uint8 HxW, 255 = fill, possibly soft (a feathered brush). Grow and shrink are a grey
dilation and erosion with a disc, so a soft edge keeps its softness and moves outwards or
inwards; feathering blurs the edge so the fill fades over about `px` pixels. Every function
works only on the rectangle the result can differ in (the mask's extent plus the radius): an
object's mask on a 20 MP photo costs what its own size costs, not the photo's.
"""

from __future__ import annotations

import cv2
import numpy as np

from studio.editing.history import Rect, bbox

MAX_PX = 500  # the largest amount the tools accept (the GUI's box and the CLI's check)
FEATHER_SIGMA = 2.5  # a blurred step rises from 10 % to 90 % over ~2.56 sigma: px / 2.5 makes that px


def disc(px: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))


def _work_rect(mask: np.ndarray, margin: int) -> Rect | None:
    """The mask's extent widened by margin, within the image (None: the mask is blank)."""
    r = bbox(mask > 0)
    if r is None:
        return None
    h, w = mask.shape
    x, y, rw, rh = r
    x0, y0 = max(0, x - margin), max(0, y - margin)
    return x0, y0, min(w, x + rw + margin) - x0, min(h, y + rh + margin) - y0


def _apply(mask: np.ndarray, margin: int, fn) -> np.ndarray:
    out = mask.copy()
    rect = _work_rect(mask, margin)
    if rect is not None:
        x, y, w, h = rect
        out[y:y + h, x:x + w] = fn(mask[y:y + h, x:x + w])
    return out


def grow(mask: np.ndarray, px: int) -> np.ndarray:
    """The mask widened by px pixels all round (a negative px shrinks)."""
    if px < 0:
        return shrink(mask, -px)
    if px == 0:
        return mask.copy()
    return _apply(mask, px + 1, lambda m: cv2.dilate(m, disc(px)))


def shrink(mask: np.ndarray, px: int) -> np.ndarray:
    """The mask narrowed by px pixels all round; parts narrower than 2 px vanish. The mask is taken
    to go on past the picture's edge (OpenCV's default border), so an object cut by the frame
    keeps touching it: a strip of it left along the edge would survive the fill."""
    if px < 0:
        return grow(mask, -px)
    if px == 0:
        return mask.copy()
    # The work rectangle keeps a blank pixel round the mask inside the image, which is what erodes it there.
    return _apply(mask, 1, lambda m: cv2.erode(m, disc(px)))


def feather(mask: np.ndarray, px: int) -> np.ndarray:
    """A soft edge: the fill fades from full to none over about px pixels, centred on the old edge."""
    if px <= 0:
        return mask.copy()
    sigma = px / FEATHER_SIGMA
    margin = int(np.ceil(3 * sigma)) + 1

    def blur(m: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(m, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)  # no fade at the frame

    return _apply(mask, margin, blur)

