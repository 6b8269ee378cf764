"""Run any image-to-image function on an image of any size, tile by tile.

Tiles overlap by `overlap` input pixels and are blended with complementary linear ramps (the
weights of overlapping tiles sum to exactly 1), so no seam shows and no weight buffer is
needed: a 4000x3000 photo needs the output array plus one tile's activations. Each tile also
sees `context` pixels beyond its span (discarded), so its edges are computed as the whole image
would compute them. A tile that runs out of memory halves the tile size and starts again;
progress is reported per tile, which is also where a job can be cancelled. Upscaling uses it;
so can photo inpainting of very large images or video frames (chaiNNer's auto_split does the
same for any upscaler).
"""

from __future__ import annotations

import math
import os
from typing import Callable

import numpy as np

from studio.errors import StudioError
from studio.jobs import Job

OVERLAP = 16  # input pixels shared by neighbouring tiles
CONTEXT = 8  # extra input pixels each tile sees beyond its span, where the image has them
MIN_TILE = 32


def free_memory_bytes(device) -> int:
    """What a tile may use: part of free GPU memory, or of available RAM."""
    if device is not None and getattr(device, "type", "cpu") == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(device)
        return int(free * 0.6)
    try:
        avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        avail = 4 << 30
    # Bigger CPU tiles are no faster; keep well under the 3 GB a laptop can spare.
    return int(min(avail * 0.25, 1.5 * (1 << 30)))


def plan_tiles(length: int, tile: int, overlap: int = OVERLAP) -> list[tuple[int, int]]:
    """(start, end) spans covering [0, length), equal sizes <= tile, neighbours sharing `overlap`."""
    if length <= tile:
        return [(0, length)]
    n = math.ceil((length - overlap) / (tile - overlap))
    size = math.ceil((length + (n - 1) * overlap) / n)
    starts = [min(i * (size - overlap), length - size) for i in range(n)]
    return [(s, s + size) for s in starts]


def ramp_weights(spans: list[tuple[int, int]], index: int, scale: int) -> np.ndarray:
    """1-D blending weights (output pixels) of tile `index`; over all tiles they sum to 1."""
    s, e = spans[index]
    w = np.ones((e - s) * scale, np.float32)
    if index > 0:  # rises over the overlap with the previous tile
        ov = (spans[index - 1][1] - s) * scale
        w[:ov] = (np.arange(ov, dtype=np.float32) + 0.5) / ov
    if index < len(spans) - 1:  # falls over the overlap with the next tile
        ov = (e - spans[index + 1][0]) * scale
        w[len(w) - ov :] *= 1.0 - (np.arange(ov, dtype=np.float32) + 0.5) / ov
    return w


def is_out_of_memory(e: BaseException) -> bool:
    text = str(e).lower()
    return "out of memory" in text or "can't allocate memory" in text or "not enough memory" in text


def _empty_cache(device) -> None:
    if getattr(device, "type", "") == "cuda":
        import torch

        torch.cuda.empty_cache()


def tiled(fn: Callable[[np.ndarray], np.ndarray], image: np.ndarray, tile: int, job: Job, *, scale: int = 1,
          min_tile: int = MIN_TILE, device=None, what: str = "processing") -> tuple[np.ndarray, int]:
    """(fn applied to `image` tile by tile, the tile size that fitted in memory).

    fn maps an HxWxC float32 crop to (scale*H)x(scale*W)xC'. Out-of-memory errors halve the
    tile (down to min_tile) and start again; any other error propagates.
    """
    if min_tile <= OVERLAP:
        raise ValueError(f"tiles must be larger than their {OVERLAP}px overlap")
    tile = max(tile, min_tile)
    while True:
        try:
            return _tiled_once(fn, image, tile, job, scale, what), tile
        except Exception as e:  # noqa: BLE001 - only out-of-memory is retried
            if not is_out_of_memory(e):
                raise
            if tile <= min_tile:
                raise StudioError(f"not enough memory for {what} even with the smallest tiles") from None
            tile = max(min_tile, tile // 2)
            _empty_cache(device)
            job.progress(0.0, f"out of memory: retrying with {tile}px tiles")


def _tiled_once(fn, image: np.ndarray, tile: int, job: Job, s: int, what: str) -> np.ndarray:
    h, w = image.shape[:2]
    ys, xs = plan_tiles(h, tile), plan_tiles(w, tile)
    out = None
    n, done = len(ys) * len(xs), 0
    job.progress(0.0, f"{what} in {n} tile{'s' if n > 1 else ''}")
    for iy, (y0, y1) in enumerate(ys):
        wy = ramp_weights(ys, iy, s)
        for ix, (x0, x1) in enumerate(xs):
            cy0, cx0 = max(0, y0 - CONTEXT), max(0, x0 - CONTEXT)
            cy1, cx1 = min(h, y1 + CONTEXT), min(w, x1 + CONTEXT)
            res = fn(image[cy0:cy1, cx0:cx1])
            res = res[(y0 - cy0) * s : (y1 - cy0) * s, (x0 - cx0) * s : (x1 - cx0) * s]
            if out is None:
                out = np.zeros((h * s, w * s, res.shape[2]), np.float32)
            weight = wy[:, None, None] * ramp_weights(xs, ix, s)[None, :, None]
            out[y0 * s : y1 * s, x0 * s : x1 * s] += res * weight
            done += 1
            job.progress(done / n, f"tile {done} of {n}")
    return out
