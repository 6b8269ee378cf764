"""4x upscaling of images of any size with an SRResNet/SRGAN checkpoint, tile by tile.

The tiling (blended overlaps, no seams, out-of-memory halving, progress per tile) is
engines/tiling.py; the tile size is chosen from free memory unless the options give one.

Precision: the net's bicubic base is computed in float32; the learned residual runs under
bfloat16 autocast on CPUs that support it (about 2x faster) and float16 autocast on CUDA.
The output is float32, so 16-bit input comes back without banding.
"""

from __future__ import annotations

import math

import numpy as np

from studio.catalogue import UpscaleOptions
from studio.engines.tiling import MIN_TILE, free_memory_bytes, tiled
from studio.errors import StudioError
from studio.jobs import Job, quiet_job

FACE_MODEL = "face-sr-x4"
SCALE = 4
MAX_TILE = 512
# Peak bytes per input pixel of one tile for the 64-channel net: measured 5 kB under
# bf16 autocast (activations of the x2 and x4 stages dominate); float32 needs about twice.
BYTES_PER_PIXEL = 10_000


def auto_tile(device) -> int:
    side = int(math.sqrt(free_memory_bytes(device) / BYTES_PER_PIXEL))
    return int(max(MIN_TILE, min(MAX_TILE, side // 8 * 8)))


class Upscaler:
    """Upscaler(model, device).run(rgb float32 HxWx3 in [0, 1], None, options, job) -> (4H, 4W, 3) float32."""

    name = "upscale"

    def __init__(self, model: str | object, device=None, *, threads: int | None = None,
                 autocast: bool = True):
        import torch

        from studio.devices import pick_device, supports_bf16

        self.device = torch.device(device) if device is not None else pick_device()
        if isinstance(model, str):
            from studio.checkpoints import load_model

            model, info = load_model(model, self.device)
            if info.architecture != "srresnet":
                raise StudioError(f"checkpoint '{info.name}' is a {info.architecture}, not an upscaling model")
        self.net = model.to(self.device).eval()
        self.scale = int(getattr(self.net, "scale", SCALE))
        # Tile size asked for (None = auto) -> the size that fitted in memory: the next image of a
        # batch starts there, while another size the user picks is tried as asked.
        self.fitted_tiles: dict[int | None, int] = {}
        if self.device.type == "cpu":
            self.net = self.net.to(memory_format=torch.channels_last)  # faster oneDNN convolutions
            if threads:
                torch.set_num_threads(threads)
        self.amp_dtype = None
        if autocast and self.device.type == "cuda":
            self.amp_dtype = torch.float16
        elif autocast and self.device.type == "cpu" and supports_bf16(self.device):
            self.amp_dtype = torch.bfloat16

    def _forward(self, lr: np.ndarray) -> np.ndarray:
        import torch

        x = torch.from_numpy(np.ascontiguousarray(lr.transpose(2, 0, 1)))[None].to(self.device)
        if self.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32,
                                                    enabled=self.amp_dtype is not None):
            y = self.net(x).float().clamp_(0, 1)
        return y[0].permute(1, 2, 0).cpu().numpy()

    def run(self, rgb: np.ndarray, mask=None, options: UpscaleOptions | None = None,
            job: Job | None = None) -> np.ndarray:
        """mask: unused (the tool reads none)."""
        job = job or quiet_job()
        options = options or UpscaleOptions()
        rgb = np.asarray(rgb, np.float32)
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise StudioError("upscaling needs an RGB image")
        tile = self.fitted_tiles.get(options.tile) or options.tile or auto_tile(self.device)
        out, used = tiled(self._forward, rgb, tile, job, scale=self.scale, device=self.device, what="upscaling")
        if used < tile:
            self.fitted_tiles[options.tile] = used
        return out


def face_upscaler(device=None, model: str = FACE_MODEL):
    """64x64 face -> 256x256 with the face SR checkpoint, or None when it is not installed.

    The face tools work at 64x64; this brings their result back to size before blending.
    """
    from studio.errors import CheckpointError

    try:
        engine = Upscaler(model, device)
    except CheckpointError:
        return None
    return lambda rgb64: engine.run(rgb64)
