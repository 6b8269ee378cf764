"""Tiling any image function: spans, blending weights, seamless results, out-of-memory halving.

The upscaler's use of it (a real net, cancel between tiles, the tile it remembers) is tests/test_upscale.py."""

import cv2
import numpy as np
import pytest

from studio.engines.tiling import CONTEXT, plan_tiles, ramp_weights, tiled
from studio.errors import StudioError
from studio.jobs import Job, quiet_job


def _image(h=100, w=150, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w, 3), dtype=np.float32)


@pytest.mark.parametrize("length,tile", [(512, 272), (100, 40), (1000, 130), (33, 32), (20, 64)])
def test_tiles_cover_the_image_and_weights_sum_to_one(length, tile):
    spans = plan_tiles(length, tile)
    assert spans[0][0] == 0 and spans[-1][1] == length
    assert all(e - s <= tile for s, e in spans)
    total = np.zeros(length * 4)
    for i, (s, e) in enumerate(spans):
        total[s * 4 : e * 4] += ramp_weights(spans, i, 4)
    np.testing.assert_allclose(total, 1.0, atol=1e-6)


def _nearest_x2(a):
    return np.repeat(np.repeat(a, 2, axis=0), 2, axis=1)


@pytest.mark.parametrize("fn,scale", [
    (lambda a: a, 1),  # identity
    (lambda a: 0.5 * a * a + 0.1, 1),  # per pixel
    (lambda a: a.mean(axis=2, keepdims=True), 1),  # another channel count
    (lambda a: cv2.blur(a, (5, 5)), 1),  # reads neighbours: the context gives them across tile edges
    (_nearest_x2, 2),  # nearest-neighbour x2
])
def test_any_image_function_tiles_to_its_untiled_result(fn, scale):
    assert CONTEXT >= 2  # the 5x5 blur reads 2 px beyond each output pixel
    img = _image()
    messages = []
    out, used = tiled(fn, img, 40, Job(lambda p: messages.append(p.message)), scale=scale)
    assert used == 40
    assert messages[0] == "processing in 24 tiles" and messages[-1] == "tile 24 of 24"
    whole = fn(img)
    assert out.shape == whole.shape == (100 * scale, 150 * scale, whole.shape[2]) and out.dtype == np.float32
    np.testing.assert_allclose(out, whole, atol=1e-6)


def test_out_of_memory_halves_the_tile_until_it_fits():
    img = _image()
    sizes = []

    def fn(a):
        sizes.append(max(a.shape[:2]))
        if max(a.shape[:2]) > 90:  # the whole image and 128px tiles fail; 64px tiles + context fit
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return _nearest_x2(a)

    messages = []
    out, used = tiled(fn, img, 256, Job(lambda p: messages.append(p.message)), scale=2, what="doubling")
    assert used == 64 and sizes[:2] == [150, 100] and max(sizes[2:]) <= 90
    assert messages.count("out of memory: retrying with 128px tiles") == 1
    assert messages.count("out of memory: retrying with 64px tiles") == 1
    assert messages[-1].startswith("tile ") and "doubling in 6 tiles" in messages
    np.testing.assert_allclose(out, _nearest_x2(img), atol=1e-6)

    def never_fits(a):
        raise RuntimeError("out of memory")

    with pytest.raises(StudioError, match="not enough memory for doubling even with the smallest tiles"):
        tiled(never_fits, img, 256, quiet_job(), scale=2, what="doubling")
