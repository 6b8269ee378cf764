"""Select an object: a box dragged round it, or a click on it, becomes its mask (Qt-free, OpenCV).

OpenCV's GrabCut (Rother et al. 2004: colour models of object and background, and a graph cut
that follows edges) does the segmentation. It runs on a crop round the box, with context on
every side for the background's colour model, scaled down to WORK_SIDE pixels: GrabCut's time
grows with the pixels it sees, and an object's outline needs no more than that (a 20 MP photo
answers as fast as a small one). The result is then tidied at that scale:
- only the parts that reach into the middle half of the box (or under the click) are kept:
  GrabCut also claims stray patches of the object's colours near the box's edges;
- small holes are filled (highlights and shadows GrabCut gave to the background), larger ones
  are openings the background shows through (a mug's handle) and stay;
- the outline is smoothed and scaled back up to the photo's pixels.

A click alone gives no box: the object's extent is guessed from the region of similar colour
round the click (a flood fill on a smoothed thumbnail), widened, and the click itself is marked
as certainly object.
"""

from __future__ import annotations

import cv2
import numpy as np

from studio.errors import StudioError

WORK_SIDE = 320  # long side of the crop GrabCut sees (a 320x240 crop: ~0.2 s for 5 iterations here)
CONTEXT = 0.25  # background context round the box, as a share of its longer side
MIN_CONTEXT = 12  # ... and at least this many image pixels
ITERATIONS = 5
HOLE_SHARE = 0.05  # holes smaller than this share of the object are filled
THUMB_SIDE = 256  # the click's flood fill runs on a thumbnail this size
FLOOD_DIFF = 14  # colour difference (0..255) the flood fill crosses between neighbours
SEED_MIN, SEED_MAX = 0.0005, 0.5  # a flood region outside these shares of the image is no guide
DEFAULT_BOX = 0.3  # without a guide, a box this share of the shorter side round the click


Box = tuple[int, int, int, int]  # x, y, w, h in image pixels


def _uint8(rgb: np.ndarray) -> np.ndarray:
    if rgb.dtype == np.uint8:
        return np.ascontiguousarray(rgb)
    return (np.clip(rgb, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def check_box(box, size: tuple[int, int]) -> Box:
    """The box clipped to the image (w, h = size); StudioError when it is empty or outside it."""
    w, h = size
    x, y, bw, bh = (int(round(v)) for v in box)
    if bw <= 0 or bh <= 0:
        raise StudioError(f"the box {x},{y},{bw},{bh} has no area: give x,y,width,height with width and height above 0")
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + bw), min(h, y + bh)
    if x1 <= x0 or y1 <= y0:
        raise StudioError(f"the box {x},{y},{bw},{bh} lies outside the {w}x{h} image")
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise StudioError(f"the box {x},{y},{bw},{bh} covers less than 2x2 pixels of the {w}x{h} image")
    return x0, y0, x1 - x0, y1 - y0


def check_point(point, size: tuple[int, int]) -> tuple[int, int]:
    w, h = size
    x, y = (int(np.floor(v)) for v in point)
    if not (0 <= x < w and 0 <= y < h):
        raise StudioError(f"the point {x},{y} lies outside the {w}x{h} image")
    return x, y


def _guess_box(rgb: np.ndarray, point: tuple[int, int]) -> Box:
    """A box round the object under the click: the extent of the similar colours round it, widened."""
    h, w = rgb.shape[:2]
    s = min(1.0, THUMB_SIDE / max(h, w))
    tw, th = max(1, round(w * s)), max(1, round(h * s))
    thumb = _uint8(cv2.resize(rgb, (tw, th), interpolation=cv2.INTER_AREA))
    thumb = cv2.bilateralFilter(thumb, 5, 30, 5)  # flatten texture, keep the object's edges
    seed = (min(tw - 1, int(point[0] * s)), min(th - 1, int(point[1] * s)))
    region = np.zeros((th + 2, tw + 2), np.uint8)
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | (255 << 8)
    cv2.floodFill(thumb, region, seed, 0, (FLOOD_DIFF,) * 3, (FLOOD_DIFF,) * 3, flags)
    region = region[1:-1, 1:-1]
    share = (region > 0).mean()
    if SEED_MIN <= share <= SEED_MAX:
        ys, xs = np.nonzero(region)
        x0, x1, y0, y1 = xs.min() / s, (xs.max() + 1) / s, ys.min() / s, (ys.max() + 1) / s
        pad = 0.3 * max(x1 - x0, y1 - y0)  # the flood rarely reaches the object's edges
        x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    else:
        half = DEFAULT_BOX * min(h, w) / 2
        x0, y0, x1, y1 = point[0] - half, point[1] - half, point[0] + half, point[1] + half
    return check_box((x0, y0, x1 - x0, y1 - y0), (w, h))


def _keep_object(fg: np.ndarray, near: np.ndarray) -> np.ndarray:
    """The parts of fg that reach into `near`, or the largest part when none does."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg.astype(np.uint8), connectivity=8)
    if n <= 1:
        return fg
    keep = np.unique(labels[near & fg])
    if keep.size == 0:
        keep = np.array([1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))])
    return np.isin(labels, keep)


def _fill_holes(fg: np.ndarray) -> np.ndarray:
    """fg with its holes smaller than HOLE_SHARE of its area filled."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats((~fg).astype(np.uint8), connectivity=4)
    h, w = fg.shape
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    x1, y1 = x + stats[:, cv2.CC_STAT_WIDTH], y + stats[:, cv2.CC_STAT_HEIGHT]
    inner = (x > 0) & (y > 0) & (x1 < w) & (y1 < h)  # a hole does not reach the crop's edge
    small = stats[:, cv2.CC_STAT_AREA] < HOLE_SHARE * fg.sum()
    fill = inner & small
    fill[0] = False  # label 0 is the object itself
    return fg | fill[labels]


def select_object(rgb: np.ndarray, box=None, point=None) -> np.ndarray:
    """uint8 HxW mask (255 = the object) of the object in box (x, y, w, h) and/or at point (x, y).

    rgb: HxWx3, float in [0, 1] or uint8. StudioError for a box or point outside the image."""
    h, w = rgb.shape[:2]
    if box is None and point is None:
        raise StudioError("give a box round the object or a point on it")
    if point is not None:
        point = check_point(point, (w, h))
    box = _guess_box(rgb, point) if box is None else check_box(box, (w, h))
    bx, by, bw, bh = box
    margin = max(MIN_CONTEXT, int(CONTEXT * max(bw, bh)))
    cx0, cy0 = max(0, bx - margin), max(0, by - margin)
    cx1, cy1 = min(w, bx + bw + margin), min(h, by + bh + margin)
    s = min(1.0, WORK_SIDE / max(cx1 - cx0, cy1 - cy0))
    size = (max(2, round((cx1 - cx0) * s)), max(2, round((cy1 - cy0) * s)))
    crop = rgb[cy0:cy1, cx0:cx1]
    work = _uint8(cv2.resize(crop, size, interpolation=cv2.INTER_AREA) if s < 1 else crop)
    sw, sh = size
    # The box in the work crop, kept a pixel inside it: GrabCut needs some certain background.
    rx0, ry0 = max(1, int((bx - cx0) * s)), max(1, int((by - cy0) * s))
    rx1, ry1 = min(sw - 1, int(np.ceil((bx + bw - cx0) * s))), min(sh - 1, int(np.ceil((by + bh - cy0) * s)))
    labels = np.full((sh, sw), cv2.GC_BGD, np.uint8)
    labels[ry0:ry1, rx0:rx1] = cv2.GC_PR_FGD
    near = np.zeros((sh, sw), np.uint8)  # where the parts to keep must reach: the click, or the box's middle
    if point is not None:
        centre = (min(sw - 1, int((point[0] - cx0) * s)), min(sh - 1, int((point[1] - cy0) * s)))
        cv2.circle(labels, centre, max(2, sw // 60), cv2.GC_FGD, -1)
        cv2.circle(near, centre, max(2, sw // 60), 1, -1)
    else:
        qx, qy = (rx1 - rx0) // 4, (ry1 - ry0) // 4
        near[ry0 + qy:ry1 - qy, rx0 + qx:rx1 - qx] = 1
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(work, labels, None, bgd, fgd, ITERATIONS, cv2.GC_INIT_WITH_MASK)
    fg = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    fg = cv2.morphologyEx(fg.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
    fg = _fill_holes(_keep_object(fg, near > 0))
    # A smooth outline at the photo's scale: the blurred work mask, scaled up, cut at half.
    soft = cv2.GaussianBlur(fg.astype(np.float32), (0, 0), 1.0)
    if s < 1:
        soft = cv2.resize(soft, (cx1 - cx0, cy1 - cy0), interpolation=cv2.INTER_LINEAR)
    out = np.zeros((h, w), np.uint8)
    out[cy0:cy1, cx0:cx1] = np.where(soft >= 0.5, 255, 0).astype(np.uint8)
    return out
