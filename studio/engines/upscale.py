"""4x upscaling of images of any size with an SRResNet/SRGAN checkpoint, tile by tile.

The tiling (blended overlaps, no seams, out-of-memory halving, progress per tile) is
engines/tiling.py; the tile size is chosen from free memory unless the options give one.

Precision: the net's bicubic base is computed in float32; the learned residual runs under
bfloat16 autocast on CPUs that support it (about 2x faster) and float16 autocast on CUDA.
The output is float32, so 16-bit input comes back without banding.

With options.faces, each detected face's framed square is also upscaled by the face model
(trained 64 -> 256 on CelebA-HQ faces) at the square's own size, and blended into the general
result over a soft ellipse after its low frequencies (colour, shading) are matched to the
general result; pixels outside the faces' squares are the general upscale's exactly. The crop
is not resized to 64 first: the net is fully convolutional, and resampling the crop (smoother
than the bicubic-downscaled faces the model learnt from) and its result scored 1.2-5 dB below
srgan alone on held-out CelebA-HQ faces pasted into a photo (squares of 41-130 px in the
input, Y-PSNR over the face), while the crop at its own size scored 0.7-1.5 dB above it.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from studio.catalogue import UpscaleOptions, tool
from studio.engines import faces
from studio.engines.blend import composite
from studio.engines.tiling import MIN_TILE, free_memory_bytes, tiled
from studio.errors import StudioError
from studio.jobs import Job, quiet_job

FACE_MODEL = "face-sr-x4"
SCALE = 4
MAX_TILE = 512
# Peak bytes per input pixel of one tile for the 64-channel net: measured 5 kB under
# bf16 autocast (activations of the x2 and x4 stages dominate); float32 needs about twice.
BYTES_PER_PIXEL = 10_000
FACE_MIN_WIDTH = 24  # a detected face narrower than this (input pixels) has too little to go on
# A framed square wider than this (input pixels) is 4x the scale the face model learnt (64 px
# squares): it is left to the general model.
FACE_MAX_SIDE = 256
# Low frequencies of the face model's result are replaced by the general result's below this
# many input pixels (a Gaussian's sigma), so no colour or shading step shows.
FACE_MATCH_SIGMA = 2.0


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
            if info.architecture not in tool("upscale").architectures:
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
        # Cancel is checked before every layer, not only between tiles: one 512-px tile takes
        # 2.5 s on two CPU cores (10 s at 1024 px, minutes at --tile 4096); per layer it is <0.3 s.
        self._job: Job | None = None
        for m in self.net.modules():
            if not any(m.children()):
                m.register_forward_pre_hook(lambda *_: self._job and self._job.check())
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
        from studio.imageio import format_pixels, max_pixels

        h, w = rgb.shape[:2]
        if h * w * self.scale**2 > max_pixels():  # the engine knows its scale (a community model's may be 2 or 8)
            raise StudioError(f"a {self.scale}x upscale of {w}×{h} would be {format_pixels(h * w * self.scale**2)}, "
                              f"over the limit of {format_pixels(max_pixels())}; crop or shrink the image first")
        tile = self.fitted_tiles.get(options.tile) or options.tile or auto_tile(self.device)
        general_job = job.span(0.0, 0.9) if options.faces else job
        self._job = job
        try:
            out, used = tiled(self._forward, rgb, tile, general_job, scale=self.scale, device=self.device,
                              what="upscaling")
        finally:
            self._job = None
        if used < tile:
            self.fitted_tiles[options.tile] = used
        if options.faces:
            out = self._enhance_faces(rgb, out, job.span(0.9, 1.0))
        return out

    def _face_model(self):
        """The face model's function (an image in, 4x out), loaded on first use and kept (None: not installed)."""
        if not hasattr(self, "_face_fn"):
            self._face_fn = face_upscaler(self.device)
        return self._face_fn

    def _enhance_faces(self, rgb: np.ndarray, general: np.ndarray, job: Job) -> np.ndarray:
        """`general` (the whole image upscaled) with each usable face of `rgb` upscaled by the
        face model and blended in; only pixels inside the faces' framed squares can change."""
        job.progress(0.0, "finding faces")
        found = faces.detect_faces(rgb)
        boxes = [faces.crop_box_for_detection(d) for d in found]
        usable = [b for d, b in zip(found, boxes) if d[2] >= FACE_MIN_WIDTH and b[2] <= FACE_MAX_SIDE]
        if len(usable) < len(found):
            job.note(f"{_faces(len(found) - len(usable))} left to the general model (narrower than "
                     f"{FACE_MIN_WIDTH} px or framed wider than {FACE_MAX_SIDE} px)")
        if not usable:
            if not found:
                job.note("no face found: faces not enhanced")
            return general
        model = self._face_model()
        if model is None:
            job.note(f"the face model ({FACE_MODEL}) is not installed: faces not enhanced")
            return general
        no_mask = np.broadcast_to(np.float32(0), rgb.shape[:2])  # extract() wants one; no copy is made
        out = general.copy()
        for i, box in enumerate(usable):
            job.progress(i / len(usable), f"face {i + 1} of {len(usable)}")
            face = model(faces.extract(rgb, no_mask, box).image)
            out = _blend_face(out, general, face, box, self.scale)
        job.progress(1.0, "faces done")
        job.note(f"{_faces(len(usable))} enhanced")
        return out


def _blend_face(out: np.ndarray, general: np.ndarray, face: np.ndarray, box: faces.Box, scale: int) -> np.ndarray:
    """`out` with the face model's result for the input square `box` blended over its scaled
    square: the face's low frequencies replaced by `general`'s there (no colour step), then
    weighted by the framed face's soft ellipse, which is 0 before the square's edge."""
    x, y, s, _ = (v * scale for v in box)
    h, w = out.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + s), min(h, y + s)
    if x0 >= x1 or y0 >= y1:
        return out
    if face.shape[0] != s:  # a face model of another scale than the general one
        face = cv2.resize(face, (s, s), interpolation=cv2.INTER_AREA if s < face.shape[0] else cv2.INTER_LANCZOS4)
    face = np.asarray(face, np.float32)[y0 - y:y1 - y, x0 - x:x1 - x]
    base = general[y0:y1, x0:x1]
    sigma = FACE_MATCH_SIGMA * scale  # in output pixels
    face = np.clip(face + cv2.GaussianBlur(base - face, (0, 0), sigma, borderType=cv2.BORDER_REFLECT), 0, 1)
    weight = faces.face_weight(s)[y0 - y:y1 - y, x0 - x:x1 - x]
    out[y0:y1, x0:x1] = composite(out[y0:y1, x0:x1], face.astype(out.dtype), weight)
    return out


def _faces(n: int) -> str:
    return f"{n} face" if n == 1 else f"{n} faces"


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
