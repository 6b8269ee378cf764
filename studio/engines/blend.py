"""Blending a fill back into a photo: a bounded feather, Poisson cloning, exact compositing.

The promise every helper here keeps: a pixel whose weight is 0 comes back bit for bit, so
pixels the user did not ask to change never drift (not even by float rounding).
"""

from __future__ import annotations

import cv2
import numpy as np

from studio.engines.masks import composite  # noqa: F401  (re-exported: the one exact composite)


def feather(mask: np.ndarray, radius: int) -> np.ndarray:
    """Soft weight: the mask itself, fading to 0 within `radius` pixels outside it.

    Outside the mask's support (mask > 0) the weight is the nearest mask pixel's value times a
    linear ramp in the exact Euclidean distance, so a soft mask fades from its own edge value
    and every pixel farther than `radius` gets exactly 0: the feather can never leak further.
    """
    m = np.clip(np.asarray(mask, dtype=np.float32), 0.0, 1.0)
    radius = int(radius)
    support = m > 0
    if radius <= 0 or not support.any() or support.all():
        return m
    outside = (~support).astype(np.uint8)
    dist = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    # Which mask pixel is nearest (labels need the approximate 5x5 metric; the exact
    # distance above still decides the ramp and the cut-off).
    _, labels = cv2.distanceTransformWithLabels(outside, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    value_of = np.zeros(int(labels.max()) + 1, np.float32)
    value_of[labels[support]] = m[support]
    ramp = np.where(dist <= radius, 1.0 - dist / (radius + 1.0), 0.0).astype(np.float32)
    return np.where(support, m, ramp * value_of[labels]).astype(np.float32)


# seamlessClone erodes its mask 3 times with a 3x3 square and uses the DESTINATION's gradients
# outside that eroded mask. Growing the region by 4 such squares first keeps the region and a
# 1-px ring round it (diagonals included) under the source's gradients.
CLONE_MARGIN = 4


def poisson_blend(dst: np.ndarray, src: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Poisson (gradient-domain) clone of src into dst where mask > 0; both HxWx3 float [0,1].

    The fill keeps src's detail and takes its level from dst's pixels around the region;
    dst's pixels inside the region (damaged, in an inpainting job) play no part. Only the
    smooth correction (clone - src, from the 8-bit cv2.seamlessClone) is added to the float
    src, so the fill keeps its full precision. Outside the mask dst is returned exactly.
    """
    region = np.asarray(mask) > 0
    if not region.any():
        return dst.copy()
    # Pad with a reflected border: seamlessClone clears the mask's outer 1-px ring and needs the
    # grown region well inside the image. Where the region meets the image border its mirror
    # image must not bring damaged pixels back, so the fill stands in for them in dst.
    pad = 2 + CLONE_MARGIN
    known = np.where(region[..., None], src, dst).astype(np.float32)
    d8 = _to8(cv2.copyMakeBorder(known, pad, pad, pad, pad, cv2.BORDER_REFLECT_101))
    s8 = _to8(cv2.copyMakeBorder(src, pad, pad, pad, pad, cv2.BORDER_REFLECT_101))
    square = np.ones((3, 3), np.uint8)
    m8 = cv2.dilate(np.pad(region, pad).astype(np.uint8) * 255, square, iterations=CLONE_MARGIN)
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
