"""Detail transfer: give a smooth hole fill the fine texture of the photo around it.

A net trained mostly on L1 fills large holes with the average of what could be there, which
looks smooth. This keeps that fill as the low frequencies and adds high frequencies copied from
the known part of the same photo: each small block of the hole takes the detail layer of a known
block whose low frequencies look alike (one of the `topk` closest, picked at random with a fixed
seed, so a flat area does not repeat one source). It is the output-side cousin of contextual
attention (Yu et al. 2018), without learning. Copied detail is not the true detail, so it costs
some hole PSNR; `strength` scales it.
"""

from __future__ import annotations

import cv2
import numpy as np

from studio.catalogue import DETAIL_STRENGTH as STRENGTH  # the measured default lives with the option
PATCH = 8  # block side in px: about the scale of grass, fabric, ripples
STEP = 4  # blocks overlap by half and are blended with a Hann window
SIGMA = 2.0  # the detail layer is image minus this Gaussian blur
TOPK = 5
MAX_SOURCES = 4096  # candidate known blocks per crop (sampled): bounds time and memory
CHUNK = 2048  # target blocks matched at once


def _block_features(small: np.ndarray, ys: np.ndarray, xs: np.ndarray, b: int) -> np.ndarray:
    """Each block's low frequencies from `small` (the low layer at half resolution), flattened:
    (n, (b/2)^2 * 3)."""
    h2 = b // 2
    iy = (ys // 2)[:, None, None] + np.arange(h2)[None, :, None]
    ix = (xs // 2)[:, None, None] + np.arange(h2)[None, None, :]
    iy = np.minimum(iy, small.shape[0] - 1)
    ix = np.minimum(ix, small.shape[1] - 1)
    return small[iy, ix].reshape(len(ys), -1)


def transfer_detail(image: np.ndarray, hole: np.ndarray, strength: float, *, seed: int = 0, patch: int = PATCH,
                    step: int = STEP, sigma: float = SIGMA, topk: int = TOPK,
                    max_sources: int = MAX_SOURCES) -> np.ndarray:
    """image: HxWx3 float32 whose hole pixels hold a fill; hole: HxW bool. Returns a copy with
    `strength` x matched detail added inside the hole (pixels outside it are returned as they are)."""
    h, w = hole.shape
    b = int(patch)
    if strength <= 0 or h < 2 * b or w < 2 * b or not hole.any():
        return image
    image = np.ascontiguousarray(image, np.float32)
    low = cv2.GaussianBlur(image, (0, 0), sigma)
    high = image - low
    # Source blocks: wholly known, and not touching the hole (its edge pixels carry its blur).
    known = cv2.erode((~hole).astype(np.uint8), np.ones((3, 3), np.uint8))
    whole = cv2.erode(known, np.ones((b, b), np.uint8), anchor=(0, 0))[: h - b + 1: 2, : w - b + 1: 2]
    sy, sx = np.nonzero(whole)
    if len(sy) < topk:
        return image
    rng = np.random.default_rng(seed)
    if len(sy) > max_sources:
        keep = rng.choice(len(sy), max_sources, replace=False)
        sy, sx = sy[keep], sx[keep]
    sy, sx = sy * 2, sx * 2
    # Target blocks: on a grid, those that overlap the hole (the last row/column flush with the edge).
    gy = np.unique(np.r_[np.arange(0, h - b + 1, step), h - b])
    gx = np.unique(np.r_[np.arange(0, w - b + 1, step), w - b])
    ty, tx = (a.ravel() for a in np.meshgrid(gy, gx, indexing="ij"))
    touched = cv2.dilate(hole.astype(np.uint8), np.ones((b, b), np.uint8), anchor=(b - 1, b - 1))
    over = touched[ty, tx] > 0
    ty, tx = ty[over], tx[over]
    if len(ty) == 0:
        return image
    import torch  # the matching is two big matrix operations: torch's matmul and top-k are fast

    small = cv2.resize(low, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    src = torch.from_numpy(_block_features(small, sy, sx, b))
    tgt = torch.from_numpy(_block_features(small, ty, tx, b))
    src_sq = (src ** 2).sum(1)
    k = min(topk, len(sy))
    pick = np.empty(len(ty), np.int64)
    for i in range(0, len(ty), CHUNK):
        d = src_sq[None] - 2 * tgt[i:i + CHUNK] @ src.T  # + |t|^2, the same for every source
        near = torch.topk(d, k, dim=1, largest=False).indices.numpy()
        pick[i:i + CHUNK] = near[np.arange(len(near)), rng.integers(0, k, len(near))]
    # Blend the chosen detail blocks with a Hann window (no seams), normalised by the weights.
    win = np.outer(np.hanning(b + 2)[1:-1], np.hanning(b + 2)[1:-1]).astype(np.float32)
    oy, ox = np.meshgrid(np.arange(b), np.arange(b), indexing="ij")
    blocks = high[(sy[pick][:, None, None] + oy), (sx[pick][:, None, None] + ox)] * win[..., None]
    where = torch.from_numpy(((ty[:, None, None] + oy) * w + (tx[:, None, None] + ox)).ravel())
    acc = torch.zeros(h * w, 3).index_add_(0, where, torch.from_numpy(blocks.reshape(-1, 3)))
    wsum = torch.zeros(h * w).index_add_(0, where, torch.from_numpy(np.broadcast_to(win, blocks.shape[:3]).ravel()))
    detail = (acc / wsum.clamp_min(1e-6)[:, None]).numpy().reshape(h, w, 3)
    out = image.copy()
    out[hole] += strength * detail[hole]
    return np.clip(out, 0.0, 1.0, out=out)
