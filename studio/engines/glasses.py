"""Eyeglasses drawn on the photo's own face.

The 64-px generator knows WHERE glasses go on this face and what kind (two lens shapes over
the eyes, dark or clear), but what it draws is a dark smudge: repainted at photo size, by the
refiner or by blending, a frame 3-5 px wide comes back as a blotch with stipple round it. So an
edit that adds glasses takes only their geometry from the generator and draws them at the
photo's resolution:
- where: the generator's darkening of the eye band (its change weighted by the attribute's
  zone) gives each lens's centre and size, made symmetric (the face square is levelled); where
  the eye detector finds the photo's two eyes near those lenses, the lenses sit on the eyes;
- what: the darkening inside the lens against the face behind it gives the lenses' tint
  (sunglasses where the generator draws them dark, clear lenses otherwise);
- how: anti-aliased rims (a lit top edge), a bridge, short hinges, a soft shadow on the skin
  below the frame and a faint reflection on the lens; the photo seen through the lens keeps all
  its detail. Every pixel outside that drawing is the photo's.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from studio.engines import faces

SIGMA = 1.0  # blur of the 64-px darkening map
FIND_SHARE = 0.35  # a lens is where the darkening exceeds this share of its peak on that side
MIN_DARKENING = 0.06  # peak darkening (mean RGB, [0, 1]) below which the generator drew no glasses
# Lens size limits, in shares of the face side (CelebA-framed squares: the eyes are ~0.3 apart)
HALF_WIDTH = (0.08, 0.15)
ASPECT = (0.6, 0.85)  # lens height over width
MIN_GAP = 0.05  # the bridge: the lenses' inner edges at least this far apart
EYE_SLACK = 4.0  # px at 64: detected eyes this far beyond the generator's lens band are other things
EYE_BELOW = 0.1  # a lens's centre lies this share of its half height below the pupil
SHAPE_POWER = 2.6  # superellipse exponent: 2 is an oval, higher is a rounder rectangle
TOP_FLARE = 0.08  # lenses are this much wider at the top than at the bottom
RIM = 0.016  # rim thickness, share of the face side (4 px on a 256-px face)
CLEAR_ABOVE = 0.75  # the generator's lens keeps more than this of the light behind it: clear lenses
TINT_RANGE = (0.22, 0.6)  # light a dark lens lets through
FRAME_RGB = np.array([0.05, 0.045, 0.05], np.float32)
SHADOW = 0.3  # darkening of the skin right under the frame


@dataclass(frozen=True)
class Lenses:
    """Both lenses in 64-px face-square coordinates: centres (x, y), half width and height,
    and the share of light they let through (1 = clear)."""

    left: tuple[float, float]
    right: tuple[float, float]
    half_width: float
    half_height: float
    transmission: float


def find_lenses(gen: np.ndarray, rec: np.ndarray, zone: np.ndarray | None = None) -> Lenses | None:
    """The glasses the generator drew: `gen` is G with glasses, `rec` G without (64x64x3 in
    [0, 1]), `zone` the Eyeglasses footprint. None when it drew none (no darkening on both
    sides of the face)."""
    n = gen.shape[0]
    dark = cv2.GaussianBlur(np.maximum(rec.mean(2) - gen.mean(2), 0), (0, 0), SIGMA)
    if zone is not None:
        dark = dark * zone
    if dark.max() < MIN_DARKENING:
        return None
    ys, xs = np.mgrid[0:n, 0:n].astype(np.float32)
    mid = float((dark * xs).sum() / dark.sum())
    sides = []
    for inside in (xs < mid, xs >= mid):
        d = np.where(inside, dark, 0)
        if d.max() < MIN_DARKENING:
            return None
        m = (d > FIND_SHARE * d.max()).astype(np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(m)
        best = 1 + int(np.argmax([(d[labels == k]).sum() for k in range(1, count)]))
        sel = labels == best
        w = d[sel]
        px, py = xs[sel], ys[sel]
        cx, cy = float((px * w).sum() / w.sum()), float((py * w).sum() / w.sum())
        # extent: weighted 2nd-98th percentiles, about the half axes of a filled lens and of a ring alike
        hw = (_wquantile(px, w, 0.98) - _wquantile(px, w, 0.02)) / 2 + 0.5
        hh = (_wquantile(py, w, 0.98) - _wquantile(py, w, 0.02)) / 2 + 0.5
        sides.append((cx, cy, hw, hh, sel))
    (lx, ly, lw, lh, lsel), (rx, ry, rw, rh, rsel) = sides
    centre, cy = (lx + rx) / 2, (ly + ry) / 2
    half_apart = max((rx - lx) / 2, 0.0)
    hw = float(np.clip((lw + rw) / 2, *(np.array(HALF_WIDTH) * n)))
    hw = min(hw, half_apart - MIN_GAP * n / 2)  # leave room for the bridge
    if hw < HALF_WIDTH[0] * n * 0.75:
        return None  # the two dark patches are too close together to be two lenses
    hh = float(np.clip((lh + rh) / 2, ASPECT[0] * hw, ASPECT[1] * hw))
    # tint: how much of the face's light the generator's lens lets through (its inner part)
    core = (lsel | rsel) & (dark > 0.5 * dark.max())
    kept = float(np.median(gen.mean(2)[core] / np.maximum(rec.mean(2)[core], 0.05)))
    transmission = 1.0 if kept > CLEAR_ABOVE else float(np.clip(kept, *TINT_RANGE))
    return Lenses((centre - half_apart, cy), (centre + half_apart, cy), hw, hh, transmission)


def find(gen: np.ndarray, rec: np.ndarray, zone: np.ndarray | None, face: np.ndarray) -> Lenses | None:
    """The drawn-attribute interface (see edit.DRAWN): what to draw on `face`, or None. The
    generator's lenses, centred on the photo's own eyes where the eye detector finds both near
    them (a face turned aside: the 64-px generator puts its lenses where a frontal face's eyes are)."""
    lenses = find_lenses(gen, rec, zone)
    if lenses is None:
        return None
    s = face.shape[0]
    eyes = faces.eye_centres(face, (0, 0, s, s))
    if eyes is None:
        return lenses
    (lx, ly), (rx, ry) = (((x + 0.5) * 64 / s - 0.5, (y + 0.5) * 64 / s - 0.5) for x, y in eyes)
    cy = lenses.left[1]
    if max(abs(ly - cy), abs(ry - cy)) > lenses.half_height + EYE_SLACK:
        return lenses  # not the eyes the generator drew glasses over
    half_apart = (rx - lx) / 2
    hw = min(lenses.half_width, half_apart - MIN_GAP * 64 / 2)
    if hw < HALF_WIDTH[0] * 64 * 0.75:
        return lenses
    y = (ly + ry) / 2 + EYE_BELOW * lenses.half_height
    return Lenses((lx, y), (rx, y), hw, min(lenses.half_height, ASPECT[1] * hw), lenses.transmission)


def _wquantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, q * cum[-1])])


def draw(face: np.ndarray, lenses: Lenses, amount: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The face square (s x s x 3 float32 in [0, 1]) with the glasses drawn `amount` (0-1) of the
    way in; returns (image, weight): weight > 0 exactly where a pixel changed. The work is done
    in a window round the glasses (a large face costs little more than a small one)."""
    s = face.shape[0]
    k = s / 64.0
    amount = float(np.clip(amount, 0, 1))
    out_full, weight_full = face.copy(), np.zeros(face.shape[:2], np.float32)
    if amount <= 0:
        return out_full, weight_full
    rim = max(1.5, RIM * s)
    a, b = lenses.half_width * k, lenses.half_height * k
    (lx, cy), (rx, _) = [((x + 0.5) * k - 0.5, (y + 0.5) * k - 0.5) for x, y in (lenses.left, lenses.right)]
    # the window: the lenses, the hinges beside them, the bridge above, the frame's shadow below
    x0, x1 = max(0, int(lx - 1.6 * a - 4 * rim)), min(s, int(rx + 1.6 * a + 4 * rim) + 1)
    y0, y1 = max(0, int(cy - 1.6 * b - 4 * rim)), min(s, int(cy + 1.3 * b + 6 * rim) + 1)
    if x0 >= x1 or y0 >= y1:
        return out_full, weight_full
    win = face[y0:y1, x0:x1]
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    shape = ys.shape
    lens, ring, glare = np.zeros(shape, np.float32), np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    lit = np.zeros(shape, np.float32)  # the rims' upper edges catch the light
    for cx, sign in ((lx, -1), (rx, 1)):
        v = (ys - cy) / b
        u = (xs - cx) / (a * np.maximum(1 - TOP_FLARE * v, 0.5))
        f = (np.abs(u) ** SHAPE_POWER + np.abs(v) ** SHAPE_POWER) ** (1 / SHAPE_POWER)
        gy, gx = np.gradient(f)
        dist = (f - 1) / np.maximum(np.hypot(gx, gy), 1e-6)  # signed px from the lens's edge
        lens = np.maximum(lens, np.clip(0.5 - dist, 0, 1))
        ring = np.maximum(ring, np.clip(rim / 2 + 0.5 - np.abs(dist), 0, 1))
        lit = np.maximum(lit, np.clip(-gy / np.maximum(np.hypot(gx, gy), 1e-6), 0, 1) ** 2 * (np.abs(dist) < rim / 2))
        # a soft diagonal streak of reflected sky over the upper outer part of the lens
        glare = np.maximum(glare, np.exp(-(((-sign * u) * 0.6 + v * 0.8 + 0.35) / 0.22) ** 2) * (f < 1))
    ring = np.maximum(ring, _bridge_and_hinges(shape, (x0, y0), lenses, k, rim))
    # lenses: the photo darkened (a little more at the top, as tinted lenses are) plus a glint
    t = lenses.transmission
    top = np.clip((ys - (cy - b)) / (2 * b), 0, 1)
    through = win * (t * (0.85 + 0.3 * top))[..., None] if t < 1 else win.copy()
    through = through + (0.25 * (1 - t) + 0.05) * glare[..., None] * np.array([0.9, 0.95, 1.0], np.float32)
    # the frame's shadow falls on the skin below it
    shadow = cv2.GaussianBlur(ring, (0, 0), rim)
    shadow = np.roll(shadow, int(round(rim)), axis=0) * (1 - lens)
    shadow[: int(round(rim))] = 0  # what the roll brought round from the window's bottom
    shadow[shadow < 1e-3] = 0
    out = win * (1 - SHADOW * shadow)[..., None]
    out = out + (through - out) * lens[..., None]
    frame = FRAME_RGB + 0.22 * lit[..., None]
    out = out + (frame - out) * ring[..., None]
    weight = np.maximum(np.maximum(lens, ring), shadow) * amount
    out = win + (out - win) * amount
    out_full[y0:y1, x0:x1] = np.where(weight[..., None] > 0, np.clip(out, 0, 1), win)
    weight_full[y0:y1, x0:x1] = weight
    return out_full.astype(np.float32), weight_full


def _bridge_and_hinges(shape: tuple[int, int], origin: tuple[int, int], lenses: Lenses, k: float,
                       rim: float) -> np.ndarray:
    """Coverage (a window of `shape` whose top left is `origin` in the face square, in [0, 1])
    of the bridge between the lenses and the hinges at their outer edges, drawn anti-aliased at
    4x and averaged down."""
    up = 4
    h, w = shape
    canvas = np.zeros((h * up, w * up), np.uint8)
    a, b = lenses.half_width * k, lenses.half_height * k
    ox, oy = origin
    (lx, ly), (rx, ry) = [((x + 0.5) * k - ox, (y + 0.5) * k - oy) for x, y in (lenses.left, lenses.right)]
    # the bridge: an arch from one lens's upper inner edge to the other's
    t = np.linspace(0, 1, 24)
    x0, x1 = lx + a * 0.92, rx - a * 0.92
    yb = ly - 0.35 * b
    bridge = np.stack([x0 + (x1 - x0) * t, yb - 0.25 * b * np.sin(np.pi * t)], 1)
    hinge_l = np.array([[lx - a * 1.02, ly - 0.45 * b], [lx - a * 1.02 - 0.4 * a, ly - 0.5 * b]])
    hinge_r = np.array([[rx + a * 1.02, ry - 0.45 * b], [rx + a * 1.02 + 0.4 * a, ry - 0.5 * b]])
    for line, width in ((bridge, rim * 0.9), (hinge_l, rim * 1.1), (hinge_r, rim * 1.1)):
        pts = np.round(line * up * 16).astype(np.int32)  # 4 fractional bits
        cv2.polylines(canvas, [pts], False, 255, max(1, int(round(width * up))), cv2.LINE_AA, shift=4)
    return cv2.resize(canvas.astype(np.float32) / 255, (w, h), interpolation=cv2.INTER_AREA)
