"""Training pairs for 4x super-resolution: random HR crops and their bicubic LR.

LR is made the way the literature's test sets are made (bicubic_down in studio/data/images.py:
antialiased bicubic, Pillow's BICUBIC = MATLAB imresize), from the 8-bit HR crop, and stored
as 8 bits again. An optional `degrade` adds what real photos carry (a little blur, sensor
noise, JPEG).

Each virtual index maps to one crop through its own seeded generator, so batches depend
only on the sampler's order: resuming a run replays exactly the same data.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image, ImageFilter

from studio.data.images import bicubic_down
from studio.errors import StudioError

VIRTUAL_LENGTH = 1 << 22  # crops per "epoch": far more than any run takes


def degrade(lr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Light random blur, Gaussian noise and JPEG, each with probability 1/2."""
    im = Image.fromarray(lr)
    if rng.random() < 0.5:
        im = im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.2, 1.0))))
    out = np.asarray(im).astype(np.float32)
    if rng.random() < 0.5:
        out = out + rng.normal(0.0, rng.uniform(1.0, 5.0), out.shape).astype(np.float32)
    out = np.clip(np.round(out), 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, "JPEG", quality=int(rng.integers(60, 96)))
        out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return out


class SRPatches:
    """Random (LR, HR) crop pairs as float tensors in [0, 1], batched by `get_batch`."""

    def __init__(self, images: list[np.ndarray], *, lr_patch: int, scale: int = 4, degrade: bool = False, seed: int = 0):
        hr_patch = lr_patch * scale
        self.images = [im for im in images if min(im.shape[:2]) >= hr_patch]
        if not self.images:
            raise StudioError(f"no training image is at least {hr_patch}x{hr_patch} (--patch {lr_patch} x {scale})")
        # Large wallpapers would otherwise swamp the small photos: weight by sqrt(area).
        w = np.array([float(im.shape[0] * im.shape[1]) ** 0.5 for im in self.images])
        self.weights = w / w.sum()
        self.lr_patch, self.scale, self.degrade, self.seed = lr_patch, scale, degrade, seed

    def __len__(self) -> int:
        return VIRTUAL_LENGTH

    def pair(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng((self.seed, int(index)))
        im = self.images[int(rng.choice(len(self.images), p=self.weights))]
        size = self.lr_patch * self.scale
        y = int(rng.integers(0, im.shape[0] - size + 1))
        x = int(rng.integers(0, im.shape[1] - size + 1))
        hr = im[y : y + size, x : x + size]
        # The 8 flips and right-angle turns: photos have no preferred orientation at this scale.
        hr = np.rot90(hr, int(rng.integers(4)))
        if rng.random() < 0.5:
            hr = hr[:, ::-1]
        hr = np.ascontiguousarray(hr)
        lr = bicubic_down(hr, self.scale)
        if self.degrade:
            lr = degrade(lr, rng)
        return lr, hr

    def get_batch(self, indices) -> tuple[torch.Tensor, torch.Tensor]:
        pairs = [self.pair(i) for i in indices]
        lr = torch.from_numpy(np.stack([p[0] for p in pairs])).permute(0, 3, 1, 2).float().div_(255)
        hr = torch.from_numpy(np.stack([p[1] for p in pairs])).permute(0, 3, 1, 2).float().div_(255)
        return lr, hr
