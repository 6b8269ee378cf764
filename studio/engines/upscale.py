"""4x upscaling of images of any size with an SRResNet/SRGAN checkpoint, tile by tile.

Tiles overlap by OVERLAP input pixels and are blended with complementary linear ramps
(the weights of overlapping tiles sum to exactly 1), so no seam shows and no weight
buffer is needed: a 4000x3000 photo needs the output array plus one tile's activations.
The tile size is chosen from free memory and halved automatically when a tile runs out
of memory; progress is reported per tile, which is also where a job can be cancelled.

Precision: the net's bicubic base is computed in float32; the learned residual runs under
bfloat16 autocast on CPUs that support it (about 2x faster) and float16 autocast on CUDA.
The output is float32, so 16-bit input comes back without banding.
"""

from __future__ import annotations

import math
import os

import numpy as np

from studio.errors import StudioError
from studio.jobs import Job, quiet_job

DEFAULT_MODEL = "srgan"
FACE_MODEL = "face-sr-x4"
SCALE = 4
OVERLAP = 16  # input pixels shared by neighbouring tiles
CONTEXT = 8  # extra input pixels each tile sees beyond its span (discarded), where the image has them
MIN_TILE = 32
MAX_TILE = 512
# Peak bytes per input pixel of one tile for the 64-channel net: measured 5 kB under
# bf16 autocast (activations of the x2 and x4 stages dominate); float32 needs about twice.
BYTES_PER_PIXEL = 10_000


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


def auto_tile(device) -> int:
    side = int(math.sqrt(free_memory_bytes(device) / BYTES_PER_PIXEL))
    return int(max(MIN_TILE, min(MAX_TILE, side // 8 * 8)))


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


def _is_oom(e: BaseException) -> bool:
    text = str(e).lower()
    return "out of memory" in text or "can't allocate memory" in text or "not enough memory" in text


class Upscaler:
    """Upscaler(model).run(rgb float32 HxWx3 in [0, 1], job) -> (4H, 4W, 3) float32."""

    name = "upscale"

    def __init__(self, model: str | object = DEFAULT_MODEL, device=None, *, tile: int | None = None,
                 threads: int | None = None, autocast: bool = True):
        import torch

        from studio.devices import pick_device, supports_bf16

        self.device = device if device is not None else pick_device()
        if isinstance(model, str):
            from studio.checkpoints import load_model

            model, info = load_model(model, self.device)
            if info.architecture != "srresnet":
                raise StudioError(f"checkpoint '{info.name}' is a {info.architecture}, not an upscaling model")
        self.net = model.to(self.device).eval()
        self.scale = int(getattr(self.net, "scale", SCALE))
        if tile is not None and tile < MIN_TILE:
            raise StudioError(f"--tile must be at least {MIN_TILE} pixels")
        self.tile = tile
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

    def run(self, rgb: np.ndarray, job: Job | None = None) -> np.ndarray:
        job = job or quiet_job()
        rgb = np.asarray(rgb, np.float32)
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise StudioError("upscaling needs an RGB image")
        tile = self.tile or auto_tile(self.device)
        while True:
            try:
                return self._run_tiled(rgb, tile, job)
            except Exception as e:  # noqa: BLE001 - only out-of-memory is retried
                if not _is_oom(e) or tile <= MIN_TILE:
                    if _is_oom(e):
                        raise StudioError("not enough memory to upscale even with the smallest tiles") from None
                    raise
                tile = max(MIN_TILE, tile // 2)
                self.tile = tile  # remember for the next image of a batch
                _empty_cache(self.device)
                job.progress(0.0, f"out of memory: retrying with {tile}px tiles")

    def _run_tiled(self, rgb: np.ndarray, tile: int, job: Job) -> np.ndarray:
        h, w = rgb.shape[:2]
        s = self.scale
        ys, xs = plan_tiles(h, tile), plan_tiles(w, tile)
        out = np.zeros((h * s, w * s, 3), np.float32)
        n, done = len(ys) * len(xs), 0
        job.progress(0.0, f"upscaling in {n} tile{'s' if n > 1 else ''}")
        for iy, (y0, y1) in enumerate(ys):
            wy = ramp_weights(ys, iy, s)
            for ix, (x0, x1) in enumerate(xs):
                # Read a little context beyond the tile so its edges are computed as the whole
                # image would compute them; only the tile's own span is kept.
                cy0, cx0 = max(0, y0 - CONTEXT), max(0, x0 - CONTEXT)
                cy1, cx1 = min(h, y1 + CONTEXT), min(w, x1 + CONTEXT)
                sr = self._forward(rgb[cy0:cy1, cx0:cx1])
                sr = sr[(y0 - cy0) * s : (y1 - cy0) * s, (x0 - cx0) * s : (x1 - cx0) * s]
                weight = wy[:, None, None] * ramp_weights(xs, ix, s)[None, :, None]
                out[y0 * s : y1 * s, x0 * s : x1 * s] += sr * weight
                done += 1
                job.progress(done / n, f"tile {done} of {n}")
        return out


def _empty_cache(device) -> None:
    if getattr(device, "type", "") == "cuda":
        import torch

        torch.cuda.empty_cache()


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
