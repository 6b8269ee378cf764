"""Hair colour edits drawn in the photo's own detail.

The 64-px generator knows WHAT colour the hair should become but not what the photo's hair
looks like: repainting the region from it (or by the refiner along it) gives another person's
blurred hair, and the change it makes in the face behind the hair gives a pale blotch. A colour
edit keeps every strand of the photo instead:
- where: the generator's change on this face when its hair is made blond or black, weighted by
  the hair colours' footprint (their zone), bounds the search; the hair's colour is read from
  the crown of the head; GrabCut on the photo's face square (grown where the photo allows),
  seeded by that colour (hair) and by the face, the skin's colour and the top corners (not
  hair), and a fade by distance from the crown's colour turn it into a mask that follows the
  hair's real outline;
- what: the hair's colour statistics are moved to those of real hair of the target colour
  (measured on training faces), so the photo's own strands and highlights stay; the generator
  at 64 px makes blond too faint and black too grey to be copied.
"""

from __future__ import annotations

import cv2
import numpy as np

GRABCUT_SIDE = 256  # GrabCut runs on the face square at this size (it is slow on large squares)
GRABCUT_ITERS = 3
PRIOR_TOP = 0.05  # the prior is 1 on this top share of the face square
SURE_HAIR = 0.6  # prior above this (and not of the skin's colour): hair; above MAYBE_HAIR:
MAYBE_HAIR = 0.3  # probably (GrabCut decides by colour); below SURE_NOT: surely not
SKIN_WEIGHTS = np.array([0.5, 1.0, 1.0], np.float32)  # L, a, b
SKIN_DIST = 3.0  # Lab Mahalanobis distance from the cheeks' colour within which a pixel is skin
SURE_NOT = 0.1
# Where things are in a face square framed like CelebA-HQ (fractions of the side; centre x, y
# and radii): the face (brows to chin, cheek to cheek) and the crown of the head above it.
FACE_ELLIPSE = (0.5, 0.62, 0.2, 0.26)
CHEEKS = (0.5, 0.6, 0.14, 0.12)  # where the skin's colour is read
HAIR_BAND = (0.5, 0.12, 0.18, 0.07)  # above the hairline of most faces: a forehead in it spoils the seeds
BACKGROUND_CORNER = 0.1
PRIOR_FADE = 0.1  # beyond the face square the prior falls by e every 10 % of the face side
BALD_SKIN = 0.9  # the crown is skin-coloured over more than this share: bald (light blond reaches 0.8)
MIN_HAIR = 0.01  # hair (connected to the crown) covers at least this share of the square, or there is none
MIN_SEED = 50  # crown pixels (of the GrabCut grid) needed to trust the crown's colour
CROWN_SPREAD_MIN = np.array([10.0, 3.0, 3.0], np.float32)  # L, a, b in 8-bit Lab (as the mask is found)
CROWN_WEIGHTS = np.array([0.5, 1.0, 1.0], np.float32)  # L, a, b: shine and shadow vary hair's lightness most
HAIR_NEAR, HAIR_FAR = 2.0, 4.0  # colour distance from the crown (in its spreads): hair below, not hair above
CHANGE_SIGMA = 2.0  # at 64 px: only the generator's broad colour change is taken
# Real hair of each colour, OpenCV float Lab (L 0-100): (centre, spread) of lab_stats over the
# hair pixels (attribute zone > 0.5, not of the skin's colour), averaged over the decisive half
# of 150 CelebA-HQ training faces per label (the lighter half of blond and grey, the darker half
# of black, all brown: the average blond is a dark blond that reads as light brown), measured by
# `python -m studio.train.hair_colours`.
HAIR_LAB = {
    "Black_Hair": (np.array([5.7, 0.8, 1.3], np.float32), np.array([5.3, 1.5, 1.9], np.float32)),
    "Blond_Hair": (np.array([59.9, 5.5, 19.4], np.float32), np.array([18.1, 5.0, 8.0], np.float32)),
    "Brown_Hair": (np.array([24.8, 6.9, 9.7], np.float32), np.array([17.5, 5.3, 7.7], np.float32)),
    "Gray_Hair": (np.array([68.3, 3.2, 4.8], np.float32), np.array([15.2, 3.2, 4.9], np.float32)),
}
L_GAIN = (0.5, 2.0)  # lightness contrast of the photo's hair scaled towards the target's, within this
LINEAR_SPREADS = 2.0
FAR_FADE = 2.0  # see recolour()
SHINE_CHROMA = 8.0  # Lab chroma: greyer than this is shine, twice this is skin-coloured
HOLE_MAX = 0.01  # enclosed holes in the hair mask up to this share of the square are filled
EDGE_SOFT = 1.5  # mask feather, in px of the GrabCut grid


def _resize(img: np.ndarray, side: int) -> np.ndarray:
    """Square resize, bilinear when enlarging (not faces._resize's Lanczos: masks and priors
    would ring around their edges), unclipped."""
    if img.shape[0] == side:
        return img.astype(np.float32)
    interp = cv2.INTER_AREA if side < img.shape[0] else cv2.INTER_LINEAR
    return cv2.resize(img, (side, side), interpolation=interp).astype(np.float32)


def hair_prior(changes: list[np.ndarray], zone: np.ndarray) -> np.ndarray:
    """(64, 64) in [0, 1]: how likely each pixel is hair to recolour: the largest of the
    generator's `changes` (64 x 64 x 3 each) on THIS face (where its hair is) weighted by the
    hair colours' zone (hair, not the skin that the 64-px generator also changes), 1 at its top
    PRIOR_TOP."""
    change = np.max([np.abs(c).sum(2) for c in changes], axis=0).astype(np.float32)
    p = cv2.GaussianBlur(change, (0, 0), CHANGE_SIGMA) * zone
    top = float(np.percentile(p, 100 * (1 - PRIOR_TOP)))
    return np.clip(p / max(top, 1e-6), 0, 1).astype(np.float32)


def skin_distance(img: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """(h, w): Mahalanobis distance of each pixel's Lab colour from the skin of the cheeks and
    nose (where they are in a face square framed like CelebA-HQ, inset by `margin` of the
    square image on every side); img: uint8 RGB, square."""
    lab = cv2.cvtColor(img, cv2.COLOR_RGB2LAB).astype(np.float32) * SKIN_WEIGHTS  # light varies over a face more than hue
    cheeks = _ellipse(img.shape[0], *CHEEKS, margin)
    ref = lab[cheeks]
    cov = np.cov(ref.T) + np.eye(3, dtype=np.float32) * 4.0  # a floor: flat skin gives a tiny spread
    d = lab.reshape(-1, 3) - ref.mean(0)
    return np.sqrt(np.einsum("ij,jk,ik->i", d, np.linalg.inv(cov), d)).reshape(img.shape[:2])


def cheeks(side: int) -> np.ndarray:
    """side x side bool: the cheeks and nose of a face square framed like CelebA-HQ."""
    return _ellipse(side, *CHEEKS)


def _ellipse(side: int, cx: float, cy: float, rx: float, ry: float, margin: float = 0.0) -> np.ndarray:
    """An ellipse given in face-square fractions, on a side x side grid whose face square is
    inset by `margin` of the side on every side."""
    f = 1 - 2 * margin
    cx, cy, rx, ry = margin + cx * f, margin + cy * f, rx * f, ry * f
    yy, xx = np.mgrid[0:side, 0:side] / side
    return ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1


def crown_hair(lab: np.ndarray, crown: np.ndarray, face: np.ndarray) -> np.ndarray:
    """The hair among the `crown` pixels (bool, h x w) of a Lab image: of two colour clusters,
    the one that lies closer to the `face` (hair hugs the head; background lies beyond it)."""
    px = (lab[crown] * CROWN_WEIGHTS).astype(np.float32)
    if len(px) < 2 * MIN_SEED:
        return crown
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    cv2.setRNGSeed(0)
    _, labels, _ = cv2.kmeans(px, 2, None, criteria, 3, cv2.KMEANS_PP_CENTERS)
    labels = labels.ravel()
    dist = cv2.distanceTransform((~face).astype(np.uint8), cv2.DIST_L2, 3)[crown]
    sizes = [int((labels == k).sum()) for k in (0, 1)]
    if min(sizes) < MIN_SEED:  # one colour: all of it is the crown's hair
        return crown
    near = min((0, 1), key=lambda k: float(dist[labels == k].mean()))
    out = np.zeros_like(crown)
    out[crown] = labels == near
    return out


def frame_prior(prior: np.ndarray, side: int, margin: float) -> np.ndarray:
    """The face square's `prior` on a side x side grid whose face square is inset by `margin`
    of the side: beyond the square the prior at its edge continues, fading by distance
    (PRIOR_FADE of the face side per e-fold), so hair that the square cuts (a crown, a fringe of
    long hair) is found and clothes further down are not."""
    pad = int(round(margin * side))
    inner = side - 2 * pad
    out = cv2.copyMakeBorder(_resize(prior, inner), pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    if pad:
        t = np.arange(side, dtype=np.float32)
        d1 = np.maximum(np.maximum(pad - t, t - (pad + inner - 1)), 0)
        d = np.hypot(d1[:, None], d1[None, :])
        out = out * np.exp(-d / (PRIOR_FADE * inner))
    return out.astype(np.float32)


def hair_mask(crop: np.ndarray, prior: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """(S, S) float32 in [0, 1]: the part of `crop` (S x S x 3 in [0, 1]: the face square,
    inset by `margin` of S on every side) that the colour edit recolours; `prior` (64 x 64 in
    [0, 1], over the face square) from hair_prior. Exactly 0 where the prior (frame_prior) is
    below SURE_NOT, so those pixels stay the photo's.

    The hair's colour is read first from the crown of the head (HAIR_BAND, not of the skin's
    colour; a crown mostly of the skin's colour is a bald head: no mask). GrabCut then decides
    by colour between seeds placed by the generator's change on this face (hair where it is
    strong, near the crown's colour and not of the skin's) and by the framing of a face square
    (CelebA-HQ's, which the editor levels every face to): background is the top corners
    (BACKGROUND_CORNER), the face itself and anything of the skin's colour. What is joined to
    the crown stays, pixels far from the crown's colour fade out, enclosed holes are filled."""
    s = crop.shape[0]
    side = min(s, GRABCUT_SIDE)
    full_prior = frame_prior(prior, s, margin)
    prior = frame_prior(prior, side, margin)
    img = np.round(np.clip(_resize(crop, side), 0, 1) * 255).astype(np.uint8)
    skin = skin_distance(img, margin) < SKIN_DIST
    face = _ellipse(side, *FACE_ELLIPSE, margin)
    yy, xx = np.mgrid[0:side, 0:side] / side
    corner = (yy < BACKGROUND_CORNER) & (np.abs(xx - 0.5) > 0.5 - BACKGROUND_CORNER)
    crown_area = _ellipse(side, *HAIR_BAND, margin) & ~face
    if skin[crown_area].mean() > BALD_SKIN:  # a bald head: no hair to recolour
        return np.zeros((s, s), np.float32)
    band = crown_area & ~skin
    # The crown's hair colour, before GrabCut: its seeds keep to it, so a background that the
    # generator's change also covers (its hair is not this photo's) does not become the hair
    lab = cv2.cvtColor(img, cv2.COLOR_RGB2LAB).astype(np.float32)
    d = np.zeros((side, side), np.float32)
    if band.sum() >= MIN_SEED:
        centre, spread = lab_stats(lab, crown_hair(lab, band, face).astype(np.float32))
        spread = np.maximum(spread, CROWN_SPREAD_MIN)  # one-tone black hair: its shine is hair too
        d = np.sqrt((((lab - centre) / spread * CROWN_WEIGHTS) ** 2).sum(2) / 3)
    near = d < HAIR_NEAR
    marks = np.full((side, side), cv2.GC_PR_BGD, np.uint8)
    # the crown is only probably hair (background shows above a small head): GrabCut decides
    marks[((prior >= MAYBE_HAIR) | band) & (d < HAIR_FAR)] = cv2.GC_PR_FGD
    marks[(prior >= SURE_HAIR) & ~skin & ~corner & near] = cv2.GC_FGD
    marks[(prior < SURE_NOT) | face | skin | corner] = cv2.GC_BGD
    fg = np.isin(marks, (cv2.GC_FGD, cv2.GC_PR_FGD))
    if fg.any() and (marks == cv2.GC_BGD).any():
        cv2.setRNGSeed(0)  # GrabCut's k-means start: the same mask on every call (region() = render())
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.grabCut(img, marks, None, bgd, fgd, GRABCUT_ITERS, cv2.GC_INIT_WITH_MASK)
        fg = np.isin(marks, (cv2.GC_FGD, cv2.GC_PR_FGD))
    # keep the hair that connects to the crown: islands of hair colour in the background go,
    # and so does all of it when the crown holds no more than a bald head's highlight
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg.astype(np.uint8))
    crown = np.unique(labels[band & fg])
    crown = crown[(crown > 0) & (stats[crown, cv2.CC_STAT_AREA] >= MIN_HAIR * side * side)]
    fg = np.isin(labels, crown)
    # GrabCut's background model knows only the corners and the skin: a background of another
    # colour next to the hair can pass; fade out what is far from the crown's colour
    mask = fg.astype(np.float32) * np.clip((HAIR_FAR - d) / (HAIR_FAR - HAIR_NEAR), 0, 1)
    # fill the holes that shine and shadow leave inside the hair (each would stay its old
    # colour); not a morphological close, which also fills the background's bays between
    # spiky strands and makes a glowing rim
    n, labels, stats, _ = cv2.connectedComponentsWithStats((mask <= 0.5).astype(np.uint8), connectivity=4)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    small = stats[:, cv2.CC_STAT_AREA] <= HOLE_MAX * side * side
    holes = small & ~np.isin(np.arange(n), border)
    mask[holes[labels] & (labels > 0)] = 1.0
    mask = cv2.GaussianBlur(mask, (0, 0), EDGE_SOFT)
    mask = np.clip(_resize(mask, s), 0, 1)
    mask[full_prior < SURE_NOT] = 0.0  # never beyond the footprint
    return mask


def lab_stats(lab: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Robust per-channel centre (median) and spread (1.4826 x median absolute deviation) of the
    Lab pixels where `weight` > 0.5; stray background in the mask moves neither much."""
    px = lab[weight > 0.5]
    if len(px) < 16:
        px = lab.reshape(-1, 3)
    centre = np.median(px, 0)
    spread = 1.4826 * np.median(np.abs(px - centre), 0)
    return centre.astype(np.float32), np.maximum(spread, 1.0).astype(np.float32)


def recolour(crop: np.ndarray, mask: np.ndarray, target: str, amount: float = 1.0) -> np.ndarray:
    """The face square `crop` (s x s x 3, [0, 1]) with the hair under `mask` (s x s) given the
    colour statistics of `target` hair (a key of HAIR_LAB), `amount` of the way; float32.

    A statistics transfer in Lab (Reinhard et al. 2001): each channel is re-centred on the
    target's median and its spread scaled to the target's, so the photo's own strands,
    highlights and shadows stay where they are. Lightness contrast may grow (dark hair made
    blond shows its strands) within L_GAIN; chroma contrast is never amplified (it would turn
    JPEG noise and coloured highlights into green and red streaks)."""
    centre_t, spread_t = HAIR_LAB[target]
    lab = cv2.cvtColor(np.clip(crop, 0, 1).astype(np.float32), cv2.COLOR_RGB2LAB)
    centre, spread = lab_stats(lab, mask)
    gain = spread_t / spread
    gain[0] = np.clip(gain[0], *L_GAIN)
    gain[1:] = np.clip(gain[1:], 0.0, 1.0)
    # A lightness gain acts on the hair's own variation only: what lies beyond LINEAR_SPREADS
    # of it (a scalp in a parting, a skin edge in the feather) keeps its distance, or it would
    # flare. Chroma is only ever compressed, all of it: a shadow's own tint, kept whole under
    # a shift to grey, turns blue.
    dev = lab - centre
    bound = LINEAR_SPREADS * spread
    bound[1:] = np.inf
    if gain[0] <= 1:  # a darker, flatter colour: shine is toned down with the rest
        bound[0] = np.inf
    inner = np.clip(dev, -bound, bound)
    moved = inner * gain + (dev - inner) + centre_t
    moved[..., 0] = np.clip(moved[..., 0], 0, 100)
    rgb = cv2.cvtColor(moved.astype(np.float32), cv2.COLOR_LAB2RGB)
    w = np.clip(amount, 0, 1) * mask
    if FAR_FADE and np.isfinite(bound[0]) and centre_t[0] > centre[0]:
        # pixels of the mask far lighter than the hair (a skin edge in the feather, a scalp) are
        # not hair: keeping their distance above a much lighter target would blow them out into
        # a glowing rim, so they are left alone, fully at FAR_FADE x the bound (deep shadows in
        # the hair, far darker, are hair and are moved)...
        excess = (dev[..., 0] - bound[0]) / (bound[0] * (FAR_FADE - 1))
        # ...if coloured like skin: the shine on dark hair is as light, but grey, and is hair
        coloured = np.clip((np.hypot(lab[..., 1], lab[..., 2]) - SHINE_CHROMA) / SHINE_CHROMA, 0, 1)
        w = w * (1 - coloured * np.clip(excess, 0, 1))
    w = w[..., None]
    return np.clip(crop + w * (rgb - crop), 0, 1).astype(np.float32)
