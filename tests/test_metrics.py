"""The colour shift: what it counts (a change of colour) and what it does not (added detail)."""

import cv2
import numpy as np
import pytest

from studio.metrics import colour_shift


def smooth_image(h=64, w=80, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    phase = rng.random(3)
    return (0.5 + 0.3 * np.sin(2 * np.pi * (xx + yy)[..., None] + 6 * phase)).astype(np.float32)


def test_a_constant_offset_of_two_levels_is_a_shift_of_two():
    bic = smooth_image()
    assert colour_shift(bic + 2 / 255, bic) == pytest.approx(2.0, abs=1e-4)
    assert colour_shift(bic, bic) == 0.0


def test_added_fine_detail_is_not_a_colour_shift():
    bic = smooth_image()
    yy, xx = np.mgrid[0:bic.shape[0], 0:bic.shape[1]]
    checker = 0.08 * (((yy + xx) % 2) * 2 - 1)[..., None]
    texture = np.random.default_rng(1).normal(0, 0.1, bic.shape).astype(np.float32)
    texture -= cv2.GaussianBlur(texture, (0, 0), 1.0)  # only its fine part: zero-mean detail
    for detail in (checker, texture):
        out = bic + detail.astype(np.float32)
        assert np.abs(out - bic).mean() * 255 > 10  # large per-pixel changes...
        assert colour_shift(out, bic) < 0.1  # ...that do not move the colour
    # A tint confined to one channel and half the image counts by its share of the pixels.
    tinted = bic.copy()
    tinted[:, :40, 0] += 6 / 255
    assert colour_shift(tinted, bic) == pytest.approx(6 / 3 / 2, abs=0.15)
