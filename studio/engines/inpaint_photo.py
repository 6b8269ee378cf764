"""`--engine photo`: the learned inpainting net on photos of any size.

The net is fully convolutional but costs time per pixel, so it never sees the whole photo:
masked pixels are grouped into regions (connected components, merged when closer than
`merge` px), each region is cut out with a context margin proportional to its size, and the
crop is scaled down when its hole is wider than the net learned to fill (`reach`) or when it
has more pixels than `max_pixels` (speed). The fill is scaled back up and blended in with a
feathered mask; pixels farther than `feather` px from the mask come back bit for bit.
"""

from __future__ import annotations

import cv2
import numpy as np

from studio.engines.blend import composite, feather as feather_mask
from studio.engines.detail import STRENGTH as DETAIL, transfer_detail
from studio.devices import supports_bf16
from studio.engines.masks import require_hole
from studio.errors import CheckpointError
from studio.jobs import Job, quiet_job

PHOTO_INPAINT_MODEL = "photo-inpaint"
ARCHITECTURE = "photo-inpaint"
# The net (PixelShuffle x2 twice, no ICNR init) leaves a faint 4-pixel checkerboard in large
# holes; a Gaussian of this sigma at its resolution removes it (and adds about 0.1 dB hole PSNR).
SMOOTH_SIGMA = 1.6
# Holes whose farthest pixel is within this many px of known ones are filled at full
# resolution. The net was trained on 128-px crops, but the benchmark's 256-px crops gained
# hole PSNR up to 80 px (+0.16 dB on 50-60 % holes over 40 px) and nothing beyond.
REACH = 80.0
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)


def regions(hole: np.ndarray, merge: int, margin: tuple[int, int, float], max_regions: int = 64) -> list[Box]:
    """Crop boxes (hole + context) that cover every hole pixel and never overlap.

    Holes closer than `merge` px share a region (the distance doubles until there are at
    most `max_regions`: a mask of a thousand dust specks must not cost a thousand net runs).
    The context is `margin[2]` times the region's larger side, clamped to [margin[0],
    margin[1]]. Boxes that overlap or touch once the margin is added are merged too, so
    each pixel belongs to at most one crop.
    """
    h, w = hole.shape
    ys, xs = np.nonzero(hole)
    d = max(0, int(merge))
    while True:
        grown = hole.astype(np.uint8)
        if d > 0:  # a square kernel: OpenCV dilates with it in time independent of its size
            grown = cv2.dilate(grown, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * d + 1,) * 2))
        n, labels = cv2.connectedComponents(grown, connectivity=8)
        if n - 1 <= max_regions or d >= max(h, w):
            break
        d = max(1, 2 * d)
    # Each group's box from its own hole pixels (not from the dilated blob).
    lab = labels[ys, xs]
    lo_x, lo_y = np.full(n, w), np.full(n, h)
    hi_x, hi_y = np.full(n, -1), np.full(n, -1)
    np.minimum.at(lo_x, lab, xs)
    np.minimum.at(lo_y, lab, ys)
    np.maximum.at(hi_x, lab, xs)
    np.maximum.at(hi_y, lab, ys)
    boxes = []
    for k in range(1, n):
        if hi_x[k] < 0:
            continue
        x0, y0, x1, y1 = int(lo_x[k]), int(lo_y[k]), int(hi_x[k]) + 1, int(hi_y[k]) + 1
        m = int(np.clip(margin[2] * max(x1 - x0, y1 - y0), margin[0], margin[1]))
        boxes.append((max(0, x0 - m), max(0, y0 - m), min(w, x1 + m), min(h, y1 + m)))
    # Merge boxes that overlap (or touch): paint them, take the painted blobs' bounding boxes,
    # until that changes nothing.
    while True:
        canvas = np.zeros((h, w), np.uint8)
        for x0, y0, x1, y1 in boxes:
            canvas[y0:y1, x0:x1] = 1
        stats = cv2.connectedComponentsWithStats(canvas, connectivity=4)[2][1:]
        merged = [(int(x), int(y), int(x + bw), int(y + bh)) for x, y, bw, bh, _ in stats]
        if len(merged) == len(boxes):
            return sorted(merged, key=lambda b: (b[1], b[0]))
        boxes = merged


def scale_for(hole: np.ndarray, reach: float, max_pixels: int) -> float:
    """Downscale factor for a crop: the farthest hole pixel within `reach` px of known ones
    (what the net learned to fill), and at most `max_pixels` pixels (speed)."""
    h, w = hole.shape
    s = min(1.0, (max_pixels / float(h * w)) ** 0.5)
    # Distances on a copy at most 256 px: exact enough for choosing a scale, and cheap.
    k = min(1.0, 256.0 / max(h, w))
    small = cv2.resize(hole.astype(np.uint8), (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_NEAREST)
    farthest = cv2.distanceTransform(small, cv2.DIST_L2, 3).max() / k
    if farthest > reach:
        s = min(s, reach / farthest)
    return s


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area averaging when shrinking (no aliasing), bicubic when enlarging; size is (w, h)."""
    if (img.shape[1], img.shape[0]) == size:
        return img
    interp = cv2.INTER_AREA if size[0] < img.shape[1] else cv2.INTER_CUBIC
    return cv2.resize(img, size, interpolation=interp)


class PhotoInpainter:
    name = "photo"

    def __init__(self, model: str | object = PHOTO_INPAINT_MODEL, device=None, *, seed: int | None = None,
                 feather: int = 2, merge: int = 24, margin: tuple[int, int, float] = (24, 256, 0.5),
                 reach: float = REACH, max_pixels: int = 1024 * 1024, max_regions: int = 64, bf16: bool | None = None,
                 smooth: float | None = None, mirror: bool = True, detail: float = DETAIL):
        """model: a checkpoint name or path, or an InpaintNet. The net is deterministic; `seed`
        (default 0) only picks among the closest detail sources, so a result repeats exactly."""
        import torch

        from studio.devices import pick_device

        self.device = pick_device("auto") if device is None else torch.device(device)
        if isinstance(model, str):
            from studio.checkpoints import find_checkpoint, load_model

            arch = find_checkpoint(model).architecture
            if arch != ARCHITECTURE:
                raise CheckpointError(f"checkpoint '{model}' is a '{arch}' model, not a photo inpainting "
                                      f"('{ARCHITECTURE}') one")
            model, _ = load_model(model, self.device)
        self.net = model.to(self.device).eval()
        if self.device.type == "cpu":
            self.net = self.net.to(memory_format=torch.channels_last)
        self.seed = seed
        self.feather, self.merge, self.margin = int(feather), int(merge), margin
        self.reach, self.max_pixels, self.max_regions = float(reach), int(max_pixels), int(max_regions)
        self.bf16 = supports_bf16(self.device) if bf16 is None else bool(bf16)
        if smooth is None:  # the checkerboard it removes is the PixelShuffle net's only
            smooth = SMOOTH_SIGMA if getattr(self.net, "upsample", "shuffle") == "shuffle" else 0.0
        self.smooth = float(smooth)
        self.mirror = bool(mirror)
        self.detail = float(detail)

    def run(self, rgb: np.ndarray, mask: np.ndarray, job: Job | None = None) -> np.ndarray:
        """rgb: HxWx3 float32 in [0,1]; mask: HxW in [0,1], white = fill."""
        job = job or quiet_job()
        hole = require_hole(mask)
        mask = np.clip(np.asarray(mask, np.float32), 0.0, 1.0)
        boxes = regions(hole, self.merge, self.margin, self.max_regions)
        out = rgb.copy()
        for i, (x0, y0, x1, y1) in enumerate(boxes):
            job.progress(i / len(boxes), f"filling region {i + 1} of {len(boxes)}")
            fill = self._fill(rgb[y0:y1, x0:x1], hole[y0:y1, x0:x1])
            # The feather is read on a window `feather` px wider than the crop, so a fade that
            # reaches the crop's edge is the one the whole photo would get.
            f = self.feather
            wy0, wx0 = max(0, y0 - f), max(0, x0 - f)
            weight = feather_mask(mask[wy0:y1 + f, wx0:x1 + f], f)[y0 - wy0:y1 - wy0, x0 - wx0:x1 - wx0]
            out[y0:y1, x0:x1] = composite(rgb[y0:y1, x0:x1], fill.astype(rgb.dtype), weight)
        job.progress(1.0, "done")
        return out

    def _fill(self, crop: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """The net's result on one crop at the crop's size (float32, clamped to [0, 1])."""
        import torch

        h, w = hole.shape
        s = scale_for(hole, self.reach, self.max_pixels)
        size = (max(8, round(w * s)), max(8, round(h * s)))
        small = _resize(np.ascontiguousarray(crop, np.float32), size)
        # A small pixel is unknown if any of it was hole: damaged pixels never leak in as context.
        small_hole = _resize(hole.astype(np.float32), size) > 0 if s < 1 else hole
        x = torch.from_numpy(np.ascontiguousarray(small)).permute(2, 0, 1)[None].to(self.device)
        m = torch.from_numpy(np.ascontiguousarray(small_hole, np.float32))[None, None].to(self.device)
        if self.device.type == "cpu":
            x, m = x.contiguous(memory_format=torch.channels_last), m.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            y = self.net(x, m).float().clamp_(0, 1)
            if self.mirror:  # the mean of two guesses has less error than either (one more pass)
                y = (y + self.net(x.flip(-1), m.flip(-1)).float().clamp_(0, 1).flip(-1)) / 2
        y = y[0].permute(1, 2, 0).cpu().numpy()
        if self.smooth > 0:  # at the net's own resolution, where its period-4 pattern lives
            y = cv2.GaussianBlur(y, (0, 0), self.smooth)
        y = np.clip(_resize(y, (w, h)), 0.0, 1.0)
        if self.detail > 0:  # at the photo's own resolution: its texture, at its scale
            shown = np.where(hole[..., None], y, crop).astype(np.float32)
            y[hole] = transfer_detail(shown, hole, self.detail, seed=self.seed or 0)[hole]
        return y
