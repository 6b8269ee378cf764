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

from studio.catalogue import InpaintOptions
from studio.devices import supports_bf16
from studio.engines.blend import composite, feather as feather_mask
from studio.engines.masks import require_hole
from studio.engines.texture import textured_fill
from studio.errors import CheckpointError
from studio.jobs import Job, quiet_job

ARCHITECTURE = "photo-inpaint"
# The net (PixelShuffle x2 twice, no ICNR init) leaves a faint 4-pixel checkerboard in large
# holes; a Gaussian of this sigma at its resolution removes it (and adds about 0.1 dB hole PSNR).
SMOOTH_SIGMA = 1.6
# Holes whose farthest pixel is within this many px of known ones are filled at full
# resolution. The net was trained on 128-px crops, but the benchmark's 256-px crops gained
# hole PSNR up to 80 px (+0.16 dB on 50-60 % holes over 40 px) and nothing beyond.
REACH = 80.0
# The net and Telea's fast marching err differently deep inside large holes, so a share of
# Telea's fill lowers the error there: +0.03 dB hole PSNR on the benchmark's 50-60 % holes, its
# weakest bin, for -0.01 on smaller ones; 0.2 and more start to show Telea's streaks.
CLASSIC_SHARE = 0.1
# The net is not symmetric: the mean of its fills over mirrored and transposed views of a crop
# has less error than any one (2 views: +0.03-0.07 dB over 1; all 8: +0.03 more). Views cost net
# time, so a photo gets as many (1, 2, 4 or 8) as fit this many pixels of net input in all:
# a 1024x1024 region gets 2, the benchmark's 256x256 crops all 8.
VIEW_BUDGET = 2 * 1024 * 1024
# (flip width, flip height, transpose) per view; the first two are the old mirrored pair.
VIEWS = ((False, False, False), (True, False, False), (False, True, False), (True, True, False),
         (False, False, True), (True, False, True), (False, True, True), (True, True, True))
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


def views_for(pixels: int, budget: int = VIEW_BUDGET) -> int:
    """How many views of the net's input fit the budget (at least 1)."""
    for n in (8, 4, 2):
        if n * pixels <= budget:
            return n
    return 1


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area averaging when shrinking (no aliasing), bicubic when enlarging; size is (w, h)."""
    if (img.shape[1], img.shape[0]) == size:
        return img
    interp = cv2.INTER_AREA if size[0] < img.shape[1] else cv2.INTER_CUBIC
    return cv2.resize(img, size, interpolation=interp)


def _view(t, flip_w: bool, flip_h: bool, swap: bool):
    """One symmetric view of an NCHW tensor (flips, then transpose)."""
    import torch

    dims = [d for d, on in ((-1, flip_w), (-2, flip_h)) if on]
    t = t.flip(dims) if dims else t
    return t.transpose(-1, -2).contiguous(memory_format=torch.channels_last) if swap else t


def _undo(t, flip_w: bool, flip_h: bool, swap: bool):
    """The inverse of _view."""
    t = t.transpose(-1, -2) if swap else t
    dims = [d for d, on in ((-1, flip_w), (-2, flip_h)) if on]
    return t.flip(dims) if dims else t


class PhotoInpainter:
    name = "photo"

    def __init__(self, model: str | object, device=None, *, feather: int = 2, merge: int = 24,
                 margin: tuple[int, int, float] = (24, 256, 0.5), reach: float = REACH, max_pixels: int = 1024 * 1024,
                 max_regions: int = 64, bf16: bool | None = None, smooth: float | None = None,
                 views: int | None = None, classic_share: float = CLASSIC_SHARE):
        """model: a checkpoint name or path, or an InpaintNet. The rest is the engine's tuning
        (measured defaults). views: 1, 2, 4 or 8 net passes per crop (default: as many as
        VIEW_BUDGET allows)."""
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
        self.feather, self.merge, self.margin = int(feather), int(merge), margin
        self.reach, self.max_pixels, self.max_regions = float(reach), int(max_pixels), int(max_regions)
        self.bf16 = supports_bf16(self.device) if bf16 is None else bool(bf16)
        if smooth is None:  # the checkerboard it removes is the PixelShuffle net's only
            smooth = SMOOTH_SIGMA if getattr(self.net, "upsample", "shuffle") == "shuffle" else 0.0
        self.smooth = float(smooth)
        if views is not None and views not in (1, 2, 4, 8):
            raise ValueError("views must be 1, 2, 4 or 8")
        self.views = views
        if not 0.0 <= classic_share <= 1.0:
            raise ValueError("classic_share must be in [0, 1]")
        self.classic_share = float(classic_share)

    def run(self, rgb: np.ndarray, mask: np.ndarray, options: InpaintOptions | None = None,
            job: Job | None = None) -> np.ndarray:
        """rgb: HxWx3 float32 in [0,1]; mask: HxW in [0,1], white = fill. options.detail is the
        strength of detail transfer; the net is deterministic and options.seed (default 0) only
        picks among the closest detail sources, so a result repeats exactly."""
        job = job or quiet_job()
        options = options or InpaintOptions()
        hole = require_hole(mask)
        mask = np.clip(np.asarray(mask, np.float32), 0.0, 1.0)
        boxes = regions(hole, self.merge, self.margin, self.max_regions)
        scales = [scale_for(hole[y0:y1, x0:x1], self.reach, self.max_pixels) for x0, y0, x1, y1 in boxes]
        views = self.views or views_for(sum(round((x1 - x0) * (y1 - y0) * s * s)
                                            for (x0, y0, x1, y1), s in zip(boxes, scales)))
        out = rgb.copy()
        for i, (x0, y0, x1, y1) in enumerate(boxes):
            job.progress(i / len(boxes), f"filling region {i + 1} of {len(boxes)}")
            fill = self._fill(rgb[y0:y1, x0:x1], hole[y0:y1, x0:x1], scales[i], views, options)
            # The feather is read on a window `feather` px wider than the crop, so a fade that
            # reaches the crop's edge is the one the whole photo would get.
            f = self.feather
            wy0, wx0 = max(0, y0 - f), max(0, x0 - f)
            weight = feather_mask(mask[wy0:y1 + f, wx0:x1 + f], f)[y0 - wy0:y1 - wy0, x0 - wx0:x1 - wx0]
            out[y0:y1, x0:x1] = composite(rgb[y0:y1, x0:x1], fill.astype(rgb.dtype), weight)
        job.progress(1.0, "done")
        return out

    def _fill(self, crop: np.ndarray, hole: np.ndarray, s: float, views: int, options: InpaintOptions) -> np.ndarray:
        """The net's result on one crop at the crop's size (float32, clamped to [0, 1]); the
        net runs at scale `s`, on `views` mirrored/transposed views averaged."""
        import torch

        h, w = hole.shape
        # At least 8 px a side (the net's two stride-2 stages need it): a 3x3 photo or a crop of
        # a 2-px-high strip is enlarged, and its hole with it.
        size = (max(8, round(w * s)), max(8, round(h * s)))
        small = _resize(np.ascontiguousarray(crop, np.float32), size)
        # A small pixel is unknown if any of it was hole: damaged pixels never leak in as context.
        small_hole = _resize(hole.astype(np.float32), size) > 0 if size != (w, h) else hole
        x = torch.from_numpy(np.ascontiguousarray(small)).permute(2, 0, 1)[None].to(self.device)
        m = torch.from_numpy(np.ascontiguousarray(small_hole, np.float32))[None, None].to(self.device)
        if self.device.type == "cpu":
            x, m = x.contiguous(memory_format=torch.channels_last), m.contiguous(memory_format=torch.channels_last)
        y = 0
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            for flip_w, flip_h, swap in VIEWS[:views]:
                y = y + _undo(self.net(*(_view(t, flip_w, flip_h, swap) for t in (x, m))).float().clamp_(0, 1),
                              flip_w, flip_h, swap)
        y = (y / views)[0].permute(1, 2, 0).cpu().numpy()
        if self.smooth > 0:  # at the net's own resolution, where its period-4 pattern lives
            y = cv2.GaussianBlur(y, (0, 0), self.smooth)
        y = np.clip(_resize(y, (w, h)), 0.0, 1.0)
        if self.classic_share > 0:  # see CLASSIC_SHARE; 8 bits are plenty for a 10 % share
            crop8 = np.round(np.clip(crop, 0, 1) * 255).astype(np.uint8)
            t = cv2.inpaint(crop8, hole.astype(np.uint8), 5, cv2.INPAINT_TELEA)
            y = (1 - self.classic_share) * y + self.classic_share * (t.astype(np.float32) / 255)
        if options.detail > 0:  # at the photo's own resolution: its texture, at its scale
            y = textured_fill(crop.astype(np.float32), hole, y, options.detail, seed=options.seed or 0)
        return y
