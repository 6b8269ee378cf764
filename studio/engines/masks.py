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
    m = np.clip(np.asarray(mask, dtype=np.float32), 0.0, 1.0)[..., None]
    out = original * (1.0 - m) + filled * m
    keep = m[..., 0] == 0
    out[keep] = original[keep]
    return out.astype(original.dtype, copy=False)
