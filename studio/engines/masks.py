"""Mask helpers shared by every inpainting engine."""

from __future__ import annotations

import numpy as np

from studio.errors import StudioError


def hole_of(mask: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Boolean HxW: the pixels a model must invent (white = fill)."""
    return np.asarray(mask) > threshold


def require_hole(mask: np.ndarray) -> np.ndarray:
    hole = hole_of(mask)
    if not hole.any():
        raise StudioError("the mask is empty: paint the area to fill in white")
    if hole.all():
        raise StudioError("the mask covers the whole image: leave some of the picture for the fill to match")
    return hole


def composite(original: np.ndarray, filled: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Blend a fill into the original with the (possibly feathered) mask as weight.

    Where the mask is exactly 0 the original is returned bit for bit, so pixels the user did
    not ask to change never drift.
    """
    m = np.clip(np.asarray(mask, dtype=np.float32), 0.0, 1.0)
    rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
    out = np.array(original, copy=True)
    if len(rows) == 0:
        return out
    # only the mask's bounding box is blended: a small hole in a large image costs little
    box = np.s_[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    mb = m[box][..., None]
    part = original[box] * (1.0 - mb) + np.asarray(filled)[box] * mb
    out[box] = np.where(mb > 0, part, original[box]).astype(out.dtype, copy=False)
    return out
