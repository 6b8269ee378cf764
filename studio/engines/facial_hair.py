"""A mustache drawn hair by hair on the photo's own face.

The 64-px generator knows that this face can grow one and roughly how much (its Mustache edit
darkens the upper lip and the chin round the mouth), but what it draws is a dark blur:
repainted at photo size it came back as blotchy stubble. So an edit that adds a mustache takes
only that from the generator and draws the hair itself:
- where: on the upper lip, along the top edge of the lips found in the photo (redder than the
  cheeks; teeth count as mouth), a little past the corners with the tips hanging down; where the
  photo shows no lips (a face lit red), along the row where the generator's hair over the middle
  of the lip stops;
- how high: as the generator's hair over the lip, within usual bounds;
- colour: the person's eyebrows, the darkest hair on the face;
- how: a few hundred short, slightly curved, anti-aliased hairs growing down and away from the
  middle, neighbours leaning alike, in several shades (some catching light), thinner towards the
  outline, over a faint tint where they root. Every pixel outside the drawing is the photo's.
"""

from __future__ import annotations

import cv2
import numpy as np

from studio.engines import recolour

SIGMA = 1.2  # blur of the 64-px darkening map
FIND_SHARE = 0.35  # hair is where the darkening exceeds this share of its peak
MIN_DARKENING = 0.08  # peak darkening (mean RGB) below which the generator grew no hair
MIN_AREA = 0.01  # share of the face square the hair must cover
LOWER = 0.5  # facial hair lies below this share of the face square's height
BROWS = (0.3, 0.44, 0.22, 0.78)  # top, bottom, left, right of the brow band (face-square shares)
BROW_DARKEST = 0.1  # the brows' colour: the median of this darkest share of the band
HAIR_LENGTH = 0.026  # of the face side (7 px on a 256-px face)
HAIR_WIDTH = 0.003
COVER = 2.6  # hairs drawn per hair-sized patch of the region
EDGE_THIN = 0.015  # hairs thin out over this share of the face side inside the outline
ROOT_SHADOW = 0.3  # the skin under the hair darkens this far towards the hair's colour
SHADES = 8  # hairs are drawn in this many shades (one layer each)
SHEEN = 0.12  # the lightest shade is this much lighter (in [0, 1]) than the brows: hair catches light
FLOW = 0.3  # radians: hairs near each other lean alike (a combed mustache), this much either way
SEED = 0  # the same hairs in the preview and the render
# The lips, in a face square framed like CelebA-HQ: searched in this box (top, bottom, left,
# right shares), redder than the cheeks by LIP_REDDER of their spread in a* (at least
# LIP_SPREAD_MIN), centred within LIP_OFF_CENTRE of the middle
MOUTH_BOX = (0.62, 0.9, 0.3, 0.7)
LIP_REDDER = 3.0
LIP_SPREAD_MIN = 2.0
LIP_OFF_CENTRE = 0.12
MIN_LIPS = 0.004
MOUTH_HALF = 0.09  # half a mouth's width when only the generator says where it is
LIP_AGREE = 0.06  # lips found further than this (share of the side) below the generator's mouth are not the lips
THICKNESS = (0.035, 0.07)  # the mustache's height over the middle of the lip (share of the face side)
OVERHANG = 0.02  # it reaches this far past each corner of the mouth
DROOP = 0.03  # and its tips hang down this far beside the corners


def find_region(gen: np.ndarray, rec: np.ndarray, zone: np.ndarray | None = None) -> np.ndarray | None:
    """(64, 64) in [0, 1]: where the generator grows facial hair on this face (`gen` with it,
    `rec` without, 64x64x3 in [0, 1]; `zone` the attribute's footprint); None when it grows none."""
    n = gen.shape[0]
    dark = cv2.GaussianBlur(np.maximum(rec.mean(2) - gen.mean(2), 0), (0, 0), SIGMA)
    if zone is not None:
        dark = dark * zone
    dark[: int(LOWER * n)] = 0
    if dark.max() < MIN_DARKENING:
        return None
    mask = (dark > FIND_SHARE * dark.max()).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask)
    if count < 2:
        return None
    # the largest piece, and any other of at least a quarter its size (a chin beard apart from the lip)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = 1 + np.flatnonzero(areas >= areas.max() / 4)
    region = np.isin(labels, keep).astype(np.float32)
    # symmetric about the region's own middle (the face square is levelled, not always centred)
    xs = np.flatnonzero(region.any(0))
    mid = (xs.min() + xs.max()) / 2
    flipped = cv2.warpAffine(region, np.float32([[-1, 0, 2 * mid], [0, 1, 0]]), (n, n), flags=cv2.INTER_LINEAR)
    region = np.clip(cv2.GaussianBlur((region + flipped) / 2, (0, 0), 0.8) * 1.6, 0, 1)
    region[region < 0.2] = 0
    if (region > 0.5).mean() < MIN_AREA:
        return None
    return region.astype(np.float32)


def hair_colour(face: np.ndarray) -> np.ndarray:
    """RGB in [0, 1]: the eyebrows' colour (the darkest hair of the brow band)."""
    s = face.shape[0]
    t, b, left, r = (int(round(v * s)) for v in BROWS)
    band = face[t:b, left:r].reshape(-1, 3)
    lum = band.mean(1)
    dark = band[lum <= np.quantile(lum, BROW_DARKEST)]
    return np.median(dark, 0).astype(np.float32)


def upper_lip(face: np.ndarray) -> tuple[np.ndarray, int, int] | None:
    """The top edge of the lips in the face square (s x s x 3 in [0, 1]): (y of the edge for
    each x from left to right, left, right), or None where no lips stand out from the skin."""
    s = face.shape[0]
    lab = cv2.cvtColor(np.clip(face, 0, 1).astype(np.float32), cv2.COLOR_RGB2LAB)
    cheeks = recolour.cheeks(s)
    skin_a = np.median(lab[..., 1][cheeks])
    spread = max(1.4826 * np.median(np.abs(lab[..., 1][cheeks] - skin_a)), LIP_SPREAD_MIN)
    t, b, left, r = (int(round(v * s)) for v in MOUTH_BOX)
    area = np.zeros((s, s), bool)
    area[t:b, left:r] = True
    # lips are redder than the skin (the jaw's shadow and the hair beside it are darker, not redder)
    # ...and teeth (light, greyer than the skin) are part of the mouth whose top the mustache meets
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    teeth = (lab[..., 0] > max(np.median(lab[..., 0][cheeks]) + 10, 60)) & (chroma < 0.6 * np.median(chroma[cheeks]))
    mouth = area & ((lab[..., 1] > skin_a + LIP_REDDER * spread) | teeth)
    mouth = cv2.morphologyEx(mouth.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    count, labels, stats, centres = cv2.connectedComponentsWithStats(mouth)
    # the lips: the largest red patch that lies near the middle and is wider than tall
    ok = [k for k in range(1, count) if stats[k, cv2.CC_STAT_AREA] >= MIN_LIPS * s * s
          and abs(centres[k][0] / s - 0.5) < LIP_OFF_CENTRE and stats[k, cv2.CC_STAT_WIDTH] > stats[k, cv2.CC_STAT_HEIGHT]]
    if not ok:
        return None
    lips = labels == max(ok, key=lambda k: stats[k, cv2.CC_STAT_AREA])
    cols = np.flatnonzero(lips.any(0))
    left, right = int(cols.min()), int(cols.max())
    top = np.array([np.flatnonzero(lips[:, x])[0] for x in range(left, right + 1)], np.float32)
    top = cv2.GaussianBlur(top[None], (0, 0), max(1.0, 0.01 * s))[0]  # a lip line, not its jagged edge
    return top, left, right


def lip_band(region64: np.ndarray) -> tuple[float, float, float] | None:
    """The generator's hair over the middle of the upper lip: (its top row, the row below its
    bottom (where the mouth starts), the middle column), in 64-px units; None if it has none."""
    n = region64.shape[0]
    cols = np.flatnonzero((region64 > 0.5).any(0))
    if len(cols) == 0:
        return None
    mid = (cols.min() + cols.max()) / 2
    strip = region64[:, max(0, int(mid) - 2):int(mid) + 3].mean(1) > 0.5
    rows = np.flatnonzero(strip)
    if len(rows) == 0:
        return None
    end = rows[0]
    while end + 1 < n and strip[end + 1]:
        end += 1  # the first band of hair from the top: the upper lip's
    return float(rows[0]), float(end + 1), float(mid)


def lip_from_region(region64: np.ndarray, s: int) -> tuple[np.ndarray, int, int] | None:
    """Where the lips are when the photo does not show them (a face lit red, a beard): where
    the generator's hair over the upper lip stops; a flat lip line MOUTH_HALF of the face side
    to each side of the middle."""
    band = lip_band(region64)
    if band is None:
        return None
    n = region64.shape[0]
    _, end, mid = band
    c = (mid + 0.5) * s / n
    left, right = int(round(c - MOUTH_HALF * s)), int(round(c + MOUTH_HALF * s))
    return np.full(right - left + 1, end * s / n, np.float32), left, right


def mustache_mask(face: np.ndarray, region64: np.ndarray) -> np.ndarray | None:
    """(s, s) in [0, 1]: a mustache over the upper lip, following the lips' top edge across the
    mouth (a little past its corners), as high as the generator's hair over the lip (region64)
    within THICKNESS; the lips found in the photo, else where that hair stops; None when neither."""
    s = face.shape[0]
    lip, band = upper_lip(face), lip_band(region64)
    if lip is not None and band is not None:
        mouth = band[1] * s / region64.shape[0]  # where the generator's hair over the lip stops
        if np.median(lip[0]) - mouth > LIP_AGREE * s:
            lip = None  # a red patch far below the generator's mouth: a chin, a hand, a scarf
            # (above it, the photo's lips win: the generator's hair can run on over the chin)
    lip = lip or lip_from_region(region64, s)
    if lip is None:
        return None
    top, left, right = lip
    half = (right - left) / 2
    mid = (left + right) / 2
    over = OVERHANG * s
    # as high as the generator's hair over the lip, within usual bounds
    height = THICKNESS[1] if band is None else (band[1] - band[0]) / region64.shape[0]
    mask = np.zeros((s, s), np.float32)
    xs = np.arange(max(0, int(left - over)), min(s, int(right + over) + 1))
    edge = np.interp(xs, np.arange(left, right + 1), top)  # beyond the corners: the corners' height
    u = np.abs(xs - mid) / (half + over)  # 0 in the middle, 1 at the tips
    thick = float(np.clip(height, *THICKNESS)) * s * (1 - 0.55 * u ** 2)
    droop = DROOP * s * np.clip((np.abs(xs - mid) - half * 0.6) / (half * 0.4 + over), 0, 1) ** 2
    bottom = edge - 1 + droop  # just above the lip; past the corners the tips hang down beside them
    for x, b0, th in zip(xs, bottom, thick):
        y = np.arange(s)
        mask[:, x] = np.clip((y - (b0 - th)) / 2 + 0.5, 0, 1) * np.clip((b0 - y) / 1.5 + 0.5, 0, 1)
    mask = cv2.GaussianBlur(mask, (0, 0), 0.8)
    mask[mask < 0.05] = 0  # the blur's faint tails would tint the lip
    return np.clip(mask, 0, 1).astype(np.float32)


def find(gen: np.ndarray, rec: np.ndarray, zone: np.ndarray | None, face: np.ndarray) -> np.ndarray | None:
    """The drawn-attribute interface (see edit.DRAWN): the mustache's mask on `face` (s x s in
    [0, 1]), or None when the generator grows no hair or the lips are not found."""
    region = find_region(gen, rec, zone)
    return None if region is None else mustache_mask(face, region)


def draw(face: np.ndarray, region: np.ndarray, amount: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The face square (s x s x 3 float32 in [0, 1]) with hairs drawn over `region` (s x s in
    [0, 1], from find), `amount` (0-1) of the way in; returns (image, weight): weight > 0
    exactly where a pixel changed."""
    s = face.shape[0]
    amount = float(np.clip(amount, 0, 1))
    if amount <= 0:
        return face.copy(), np.zeros(face.shape[:2], np.float32)
    colour = hair_colour(face)
    rng = np.random.default_rng(SEED)
    length, width = max(3.0, HAIR_LENGTH * s), max(1.0, HAIR_WIDTH * s)
    ys, xs = np.nonzero(region > 0.3)
    if len(xs) == 0:
        return face.copy(), np.zeros(face.shape[:2], np.float32)
    count = int(COVER * region.sum() / (length * width))
    # denser inside than at the edges, so the outline is soft (hairs thin out towards the nose)
    depth = cv2.distanceTransform((region > 0.3).astype(np.uint8), cv2.DIST_L2, 3)
    p = region[ys, xs] * np.clip(depth[ys, xs] / (EDGE_THIN * s), 0.15, 1)
    pick = rng.choice(len(xs), count, p=p / p.sum())
    x0, y0 = xs[pick] + rng.random(count), ys[pick] + rng.random(count)
    mid = (xs.min() + xs.max()) / 2
    # hairs grow down and away from the middle of the face, more sideways further out
    out = np.clip((x0 - mid) / max(xs.max() - mid, 1), -1, 1)
    # a smooth random lean over the mustache (neighbouring hairs lie alike) plus each hair's own
    lean = cv2.GaussianBlur(rng.normal(0, 1, (8, 8)).astype(np.float32), (0, 0), 1.5)
    lean = cv2.resize(lean / max(float(np.abs(lean).max()), 1e-6), (s, s), interpolation=cv2.INTER_CUBIC)
    angle = (np.arctan2(1.0, 0.9 * out) + FLOW * lean[np.clip(y0.astype(int), 0, s - 1), np.clip(x0.astype(int), 0, s - 1)]
             + rng.normal(0, 0.15, count))
    lengths = length * rng.uniform(0.6, 1.3, count)
    y0 = y0 - 0.8 * lengths * np.sin(angle)  # rooted so that they end, not start, at the lip
    bend = rng.normal(0, 0.25, count)
    shade = rng.integers(0, SHADES, count)
    # the hairs, anti-aliased at 4x inside the region's bounding box, one layer per shade
    up, pad = 4, int(length * 1.5) + 2
    bx0, by0 = max(0, xs.min() - pad), max(0, ys.min() - pad)
    bx1, by1 = min(s, xs.max() + pad + 1), min(s, ys.max() + pad + 1)
    w, h = bx1 - bx0, by1 - by0
    layers = np.zeros((SHADES, h, w), np.float32)
    t = np.linspace(0, 1, 5)[:, None]
    for k in range(SHADES):
        canvas = np.zeros((h * up, w * up), np.uint8)
        lines = []
        for i in np.flatnonzero(shade == k):
            d = np.array([np.cos(angle[i]), np.sin(angle[i])])
            n = np.array([-d[1], d[0]])
            pts = np.array([x0[i] - bx0, y0[i] - by0]) + t * lengths[i] * d + (t * (1 - t)) * bend[i] * lengths[i] * n
            lines.append(np.round(pts * up * 16).astype(np.int32))
        cv2.polylines(canvas, lines, False, 255, max(1, int(round(width * up))), cv2.LINE_AA, shift=4)
        layers[k] = cv2.resize(canvas.astype(np.float32) / 255, (w, h), interpolation=cv2.INTER_AREA)
    out_img = face.copy()
    crop = out_img[by0:by1, bx0:bx1]
    root = region[by0:by1, bx0:bx1, None] * ROOT_SHADOW
    crop = crop + (colour - crop) * root  # where the hairs root, the skin shows their colour
    opacity = rng.uniform(0.3, 0.75, SHADES)
    shades = [np.clip(colour * rng.uniform(0.8, 1.2) + rng.uniform(0, SHEEN), 0, 1) for _ in range(SHADES)]
    for k in range(SHADES):
        a = layers[k][..., None] * opacity[k]
        crop = crop + (shades[k] - crop) * a
    weight = np.zeros((s, s), np.float32)
    weight[by0:by1, bx0:bx1] = np.maximum(root[..., 0], layers.max(0))
    out_img[by0:by1, bx0:bx1] = crop
    out_img = face + (out_img - face) * amount
    weight *= amount
    out_img = np.where(weight[..., None] > 0, np.clip(out_img, 0, 1), face)
    return out_img.astype(np.float32), weight
