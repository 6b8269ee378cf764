"""The face refiner at work: a 64-px GAN face brought to the photo's size in its own detail.

Both face tools end the same way: a 64-px face from a generator (the z-search's fill, or the
IcGAN edit) and a region of the photo's face square it may change (the hole, or where the
edit changes the face). The refiner (studio/nets/face_refiner.py, trained by
`studio train face-refiner`) repaints that region at 256 px from the generator's face and the
rest of the photo's face. Squares of another size are resized to 256 and back: larger faces
get the refiner's 256-px detail inside the region, their own pixels everywhere else.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from studio.engines.faces import _resize

REFINER_MODEL = "face-refiner"
SIZE = 256
REGION_THRESHOLD = 0.02  # a resized soft region counts as "change" above this (the net learnt binary regions)


def upsample(small: torch.Tensor, size: int = SIZE) -> torch.Tensor:
    """A 64-px GAN face (N, 3, 64, 64) in [-1, 1] brought to the refiner's size (bicubic), in
    training and in use alike."""
    return F.interpolate(small, size=(size, size), mode="bicubic", align_corners=False).clamp(-1, 1)


class FaceRefine:
    """Callable: (face s x s x 3, region s x s in [0, 1], coarse 64 x 64 x 3) -> s x s x 3, all
    float32 in [0, 1]. Outside the region the result is the refiner's, not the photo's: callers
    composite with the region (they own the feathering)."""

    def __init__(self, net, device=None):
        self.net = net.eval()
        self.device = device or next(net.parameters()).device
        for p in self.net.parameters():
            p.requires_grad_(False)

    def _tensor(self, img: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(np.atleast_3d(img).transpose(2, 0, 1)))[None]
        return t.float().to(self.device)

    @torch.inference_mode()
    def __call__(self, face: np.ndarray, region: np.ndarray, coarse64: np.ndarray) -> np.ndarray:
        s = face.shape[0]
        known = self._tensor(_resize(face, SIZE)) * 2 - 1
        mask = (self._tensor(_resize(region, SIZE)) > REGION_THRESHOLD).float()
        coarse = upsample(self._tensor(np.clip(coarse64, 0, 1)) * 2 - 1)
        out = self.net(coarse, known, mask).float().clamp(-1, 1)
        out = ((out[0] + 1) / 2).permute(1, 2, 0).cpu().numpy()
        return _resize(out, s)


def load_refiner(device=None) -> FaceRefine | None:
    """The shipped refiner, or None when its checkpoint is not installed (the face tools then
    bring their 64-px faces to size the old way: face super-resolution and blending)."""
    from studio.checkpoints import load_model
    from studio.errors import CheckpointError

    try:
        net, _ = load_model(REFINER_MODEL, device)
    except CheckpointError:
        return None
    return FaceRefine(net, device)
