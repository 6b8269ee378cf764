"""Propose a mask of the damage on a scanned photo: tears, scratches, creases and dust (Qt-free).

Damage is narrow and stands out from what surrounds it, so it is found on the lightness (L of
CIELAB) with morphological top-hats (the image minus its opening, or its closing minus the image:
what is brighter, or darker, than its surroundings and narrower than the disc):
- scratches and creases (bright where the paper shows, dark in the emulsion): a top-hat with a
  small disc, where the excess is large against the mean excess round it (bark and fur have
  thin bright and dark bits of their own) and the pixel is light or dark enough (or its excess
  twice the threshold, as for tears below); of that, what is line-like (the Hessian's curvature
  across is large, along small) and long; then the fainter pixels right next to those lines (a
  crease's half-tones, the scratch's blurred edges);
- dust: isolated specks of a few pixels, far from the local median and near black or white;
- tears: where the white paper base shows, wider than a scratch. The bright top-hat with a disc
  ~6 % of the long side, where the pixel is light (or the excess very large: thin tears across
  dark hair are blurred by JPEG and never get light), among the lightest few percent of the
  print, and not saturated (white teeth and highlights on skin are), grown by a pixel so the
  torn edges are covered too. Wide bright shapes are also the sky between leaves or a white
  shirt: `tears=False` leaves them out for a photo that has none.
A white scan margin round the print is left alone: torn corners that touch it still count.

`sensitivity` (0..1) moves every threshold together between cautious (0: only the plainest
damage) and eager (1: faint scratches too, and more of the photo's own detail). Sizes are for a
512-px picture and scale with it; scans larger than DETECT_SIDE are analysed at that size (damage
a user wants filled is still a pixel or more wide there) and the mask is scaled back up.
Figures: `studio bench damage` (docs/photo-inpainting.md).
"""

from __future__ import annotations

import cv2
import numpy as np

from studio.errors import StudioError

DETECT_SIDE = 2048  # larger scans are analysed at this long side
DEFAULT_SENSITIVITY = 0.5
MARGIN_WHITE = 245  # lightness of a white scan margin (0..255)
# (cautious, eager) ends of each threshold, on 0..255 lightness unless said otherwise
LINE_EXCESS = {"bright": (50, 20), "dark": (80, 30)}  # how far above / below the surroundings
LINE_LIGHT, LINE_DARK, LINE_SATURATION = (225, 185), (45, 90), (60, 100)
LINE_TEXTURE = (4, 2)  # excess over the mean excess in a window 6 % of the long side
LINE_LENGTH = (0.06, 0.03)  # share of the long side
SPECK_EXCESS, SPECK_TEXTURE = (70, 35), (10, 5)
SPECK_DARK, SPECK_LIGHT = (60, 100), (210, 180)
TEAR_EXCESS, TEAR_LIGHT, TEAR_SATURATION = (45, 15), (235, 205), (50, 90)
TEAR_SHARE = (5, 15)  # percent of the print that may be lighter than a tear
MIN_AREA = (10, 3)  # px at 512 px: smaller bits of a tear are JPEG noise


def _lerp(ends: tuple[float, float], sensitivity: float) -> float:
    cautious, eager = ends
    return cautious + (eager - cautious) * sensitivity


def print_area(light: np.ndarray, white: float = MARGIN_WHITE) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 of the print inside a white scan margin (the whole image if none)."""
    margin = light > white
    cols, rows = margin.mean(0) < 0.5, margin.mean(1) < 0.5
    if not cols.any() or not rows.any():
        return 0, 0, light.shape[1], light.shape[0]
    xs, ys = np.nonzero(cols)[0], np.nonzero(rows)[0]
    return int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1


def _disc(diameter: float) -> np.ndarray:
    k = max(3, int(round(diameter)) | 1)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))


def _components(mask: np.ndarray, keep) -> np.ndarray:
    """mask with only the connected parts whose stats row (OpenCV's CC_STAT_*) keep() accepts."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    ok = keep(stats)
    ok[0] = False
    return ok[labels]


def _near(core: np.ndarray, px: float) -> np.ndarray:
    return cv2.dilate(core.astype(np.uint8), _disc(2 * px + 1)) > 0


def _spread(x: np.ndarray, k: int) -> np.ndarray:
    """Local standard deviation in a k x k window."""
    mean = cv2.blur(x, (k, k))
    return np.sqrt(np.maximum(cv2.blur(x * x, (k, k)) - mean * mean, 0))


def _across_curvature(light: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """The Hessian's eigenvalues (larger, smaller) of the smoothed image: a dark line has a large
    positive one across it and a small one along it."""
    g = cv2.GaussianBlur(light, (0, 0), sigma)
    xx = cv2.Sobel(g, cv2.CV_32F, 2, 0, ksize=3)
    yy = cv2.Sobel(g, cv2.CV_32F, 0, 2, ksize=3)
    xy = cv2.Sobel(g, cv2.CV_32F, 1, 1, ksize=3)
    mid, r = (xx + yy) / 2, np.sqrt(((xx - yy) / 2) ** 2 + xy ** 2)
    return mid + r, mid - r


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    if rgb.dtype == np.uint8:
        return rgb
    return (np.clip(rgb, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def _lines(light, sat, s: float, unit: float) -> np.ndarray:
    """Scratches and creases, bright and dark."""
    side = max(light.shape)
    disc = _disc(0.015 * side)
    out = np.zeros(light.shape, bool)
    for kind in ("bright", "dark"):
        if kind == "bright":
            background = cv2.morphologyEx(light, cv2.MORPH_OPEN, disc)
            excess, sign = light - background, -1
            plain = ((light > _lerp(LINE_LIGHT, s)) | (excess > 2 * _lerp(LINE_EXCESS[kind], s))) \
                & (sat < _lerp(LINE_SATURATION, s))
        else:
            background = cv2.morphologyEx(light, cv2.MORPH_CLOSE, disc)
            excess, sign = background - light, 1
            plain = light < _lerp(LINE_DARK, s)
        threshold = _lerp(LINE_EXCESS[kind], s)
        strong = (excess > threshold) & plain
        # Texture: how much thin stuff of the same kind is about (a line alone fills little of the window).
        k = int(0.06 * side) | 1
        strong &= excess > _lerp(LINE_TEXTURE, s) * cv2.blur(excess, (k, k))
        across, along = _across_curvature(sign * light, unit)
        linear = strong & (across > 0) & (np.abs(along) < 0.5 * across)
        length = _lerp(LINE_LENGTH, s) * side
        core = _components(linear, lambda st: np.hypot(st[:, cv2.CC_STAT_WIDTH], st[:, cv2.CC_STAT_HEIGHT]) >= length)
        out |= _near(core, 2 * unit) & (excess > threshold / 2)
    return out


def _specks(light8: np.ndarray, light, s: float, unit: float) -> np.ndarray:
    """Dust: tiny dots far from the local median, on quiet surroundings, near black or white."""
    k = int(9 * unit) | 1
    median = cv2.medianBlur(light8, k).astype(np.float32)
    excess = np.abs(light - median)
    threshold = _lerp(SPECK_EXCESS, s)
    strong = (excess > threshold) & (excess > _lerp(SPECK_TEXTURE, s) * _spread(median, 2 * k + 1))
    strong &= (light < _lerp(SPECK_DARK, s)) | (light > _lerp(SPECK_LIGHT, s))
    most = 30 * unit * unit

    def small_and_round(st):
        area, extent = st[:, cv2.CC_STAT_AREA], np.maximum(st[:, cv2.CC_STAT_WIDTH], st[:, cv2.CC_STAT_HEIGHT])
        return (area <= most) & (area >= 0.35 * extent * extent)

    return _near(_components(strong, small_and_round), unit) & (excess > threshold / 2)


def _tears(light, sat, inside, s: float, unit: float) -> np.ndarray:
    side = max(light.shape)
    excess = light - cv2.morphologyEx(light, cv2.MORPH_OPEN, _disc(0.06 * side))
    threshold = _lerp(TEAR_EXCESS, s)
    m = (excess > threshold) & ((light > _lerp(TEAR_LIGHT, s)) | (excess > 2 * threshold))
    m &= (sat < _lerp(TEAR_SATURATION, s)) & (light >= np.percentile(light[inside], 100 - _lerp(TEAR_SHARE, s)))
    least = max(2, round(_lerp(MIN_AREA, s) * unit * unit))
    m = _components(m, lambda st: st[:, cv2.CC_STAT_AREA] >= least)
    return _near(m, unit)


def detect_damage(rgb: np.ndarray, sensitivity: float = DEFAULT_SENSITIVITY, *, tears: bool = True) -> np.ndarray:
    """uint8 HxW mask (255 = damage) of an RGB photo (uint8, or float in [0, 1])."""
    if not 0.0 <= sensitivity <= 1.0:
        raise StudioError(f"the sensitivity must be between 0 and 1, not {sensitivity:g}")
    h, w = rgb.shape[:2]
    scale = min(1.0, DETECT_SIDE / max(h, w))
    small = rgb if scale == 1.0 else cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
                                                 interpolation=cv2.INTER_AREA)
    small = _to_uint8(small)
    light8 = cv2.cvtColor(small, cv2.COLOR_RGB2LAB)[..., 0]
    sat = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)[..., 1].astype(np.float32)
    x0, y0, x1, y1 = print_area(light8)
    inside = np.zeros(light8.shape, bool)
    inside[y0:y1, x0:x1] = True
    # The margin takes the print's typical lightness, so that a torn corner touching the margin
    # is a narrow bright shape like any other tear, not part of a vast white area.
    light = np.where(inside, light8, np.median(light8[inside])).astype(np.float32)
    unit = max(light.shape) / 512  # the sizes above are for a 512-px picture
    m = _lines(light, sat, sensitivity, max(1.0, unit)) | _specks(light8, light, sensitivity, max(1.0, unit))
    if tears:
        m |= _tears(light, sat, inside, sensitivity, max(1.0, unit))
    out = np.where(m & inside, 255, 0).astype(np.uint8)
    if scale < 1.0:
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
        out = np.where(out >= 128, 255, 0).astype(np.uint8)
    return out
