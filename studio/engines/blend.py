"""Blending a fill back into a photo: a bounded feather, Poisson cloning, exact compositing.

The promise every helper here keeps: a pixel whose weight is 0 comes back bit for bit, so
pixels the user did not ask to change never drift (not even by float rounding).
"""

from __future__ import annotations

import cv2
import numpy as np

from studio.engines.masks import composite  # noqa: F401  (re-exported: the one exact composite)


def feather(mask: np.ndarray, radius: int) -> np.ndarray:
    """Soft weight that is 1 where the mask is, fading to 0 within `radius` pixels outside it.

    The fade is linear in the exact Euclidean distance to the mask's support (mask > 0), so
    the weight is 0 at every pixel farther than `radius` from the mask: it can never leak
    further. Inside, the user's own (possibly soft) values are kept.
    """
    m = np.clip(np.asarray(mask, dtype=np.float32), 0.0, 1.0)
    radius = int(radius)
    if radius <= 0 or not (m > 0).any():
        return m
    outside = (m <= 0).astype(np.uint8)
    dist = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    ramp = np.clip(1.0 - dist / (radius + 1.0), 0.0, 1.0)
    ramp[dist > radius] = 0.0
    return np.maximum(m, ramp.astype(np.float32))


CLONE_MARGIN = 4


def poisson_blend(dst: np.ndarray, src: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Poisson (gradient-domain) clone of src into dst where mask > 0; both HxWx3 float [0,1].

    cv2.seamlessClone works on 8 bits, so only its smooth correction (clone - src, in 8 bits)
    is taken and added to the float src: the fill keeps its full precision. Outside the mask
    dst is returned exactly.
    """
    region = np.asarray(mask) > 0
    if not region.any():
        return dst.copy()
    # seamlessClone clears the mask's outer pixel ring and needs the ROI well inside the
    # image, so work on a copy padded by a small reflected border.
    # OpenCV also takes its boundary values from a few pixels INSIDE the mask's edge, which
    # hold damaged pixels in an inpainting job; cloning over a region grown by CLONE_MARGIN
    # makes the boundary real context. Only `region` is composited back.
    pad = 2 + CLONE_MARGIN
    # Damaged pixels must never act as boundary values: where the region meets the image
    # border (mirrored into the padding) the fill itself stands in for them.
    known = np.where(region[..., None], src, dst).astype(np.float32)
    d8 = _to8(cv2.copyMakeBorder(known, pad, pad, pad, pad, cv2.BORDER_REFLECT_101))
    s8 = _to8(cv2.copyMakeBorder(src, pad, pad, pad, pad, cv2.BORDER_REFLECT_101))
    grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * CLONE_MARGIN + 1,) * 2)
    m8 = cv2.dilate(np.pad(region, pad).astype(np.uint8) * 255, grow)
    m8[:2, :] = m8[-2:, :] = 0
    m8[:, :2] = m8[:, -2:] = 0
    x, y, w, h = cv2.boundingRect(m8)
    # OpenCV places the clone at centre - size // 2; choosing the centre this way makes the
    # destination rectangle land exactly on the source's, with no off-by-one shift.
    centre = (x + w // 2, y + h // 2)
    out8 = cv2.seamlessClone(s8, d8, m8, centre, cv2.NORMAL_CLONE)
    delta = (out8.astype(np.float32) - s8.astype(np.float32))[pad:-pad, pad:-pad] / 255.0
    cloned = np.clip(src + delta, 0.0, 1.0).astype(dst.dtype)
    return composite(dst, cloned, region.astype(np.float32))


def _to8(img: np.ndarray) -> np.ndarray:
    return np.round(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)
