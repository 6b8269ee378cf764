"""Faces in real photographs: find a face, frame it like a training face, paste a result back.

The face models work on 64x64 CelebA-HQ-framed faces. On a photo of any size:
detect_faces -> choose_face (the face whose framed square holds the mask) -> extract
(padded square crop + its 64x64 version) -> the model -> paste (upscale to the crop's
size, blend only the masked region, every other pixel returned exactly). Qt-free, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Optional

import cv2
import numpy as np

from studio.engines.blend import composite, feather as feather_mask, poisson_blend
from studio.engines.masks import hole_of, require_hole
from studio.errors import StudioError

Box = tuple[int, int, int, int]  # x, y, w, h in pixels

# Framing of a CelebA-HQ training face relative to OpenCV's frontal-face Haar box, measured by
# `python -m studio.bench.face_framing --faces .../faces/celebahq/256 --n 300`: the medians
# over CelebA-HQ 1..300 at 256x256 (the whole image is the framing; 293 faces found, OpenCV
# 4.14). The training square's side is the Haar box's side / HAAR_SIZE_RATIO; the Haar box's
# centre lies HAAR_CENTRE_DX/DY (fractions of that side) right of / below the square's centre.
# Spread (IQR): ratio 0.609..0.668, dx -0.002..0.008, dy 0.047..0.061.
HAAR_SIZE_RATIO = 0.6406
HAAR_CENTRE_DX = 0.0020
HAAR_CENTRE_DY = 0.0527

# The model's hole: a 64x64 pixel is unknown once over 10 % of its area is masked, so damaged
# pixels barely leak into the context the model has to match.
HOLE64_THRESHOLD = 0.1
# paste(): the face SR runs on the part of the 64-px face the blend shows, with this much context
# at 64 px (its result there matches a whole-face run's within a grey level or so), or on the
# whole face when that part covers more than UPSCALE_ALL of it
UPSCALE_CONTEXT = 8
UPSCALE_ALL = 0.6
LEVEL_MIN_DEGREES = 1.0  # smaller tilts are left alone (no resampling for nothing)
LEVEL_MAX_DEGREES = 30.0  # beyond this the "eyes" are more likely wrong detections
DETECT_MAX_SIDE = 1024  # detection runs on a copy at most this large: bounded time on big photos
NO_FACE = (
    "no face found that holds the mask; give the face's square with --box x,y,w,h, "
    "or use --engine photo"
)
# The window's words for the same advice (StudioError.gui): its controls, not the CLI's flags.
GUI_BOX = "draw a face box (F) around the face"
GUI_NO_FACE = f"No face found that holds the mask: {GUI_BOX}, or choose the photo engine."


def bundled_cascade(name: str) -> "cv2.CascadeClassifier | None":
    """One of OpenCV's bundled Haar cascades by file name, or None when this OpenCV lacks it
    (5.x dropped them; frozen bundles may keep them beside cv2 rather than in cv2.data)."""
    if not hasattr(cv2, "CascadeClassifier"):
        return None
    base = Path(getattr(getattr(cv2, "data", None), "haarcascades", "") or Path(cv2.__file__).parent)
    found = [base / name] if (base / name).is_file() else sorted(Path(cv2.__file__).parent.rglob(name))
    cascade = cv2.CascadeClassifier(str(found[0])) if found else None
    return None if cascade is None or cascade.empty() else cascade


@lru_cache(maxsize=1)
def _cascade() -> "cv2.CascadeClassifier":
    if not hasattr(cv2, "CascadeClassifier"):
        raise StudioError(
            f"face detection needs OpenCV's Haar cascades, which OpenCV {cv2.__version__} no longer "
            "has (install opencv-contrib-python-headless<5), or give the face's square with --box x,y,w,h",
            gui=f"Face detection needs OpenCV's Haar cascades, which OpenCV {cv2.__version__} no longer has "
                f"(install opencv-contrib-python-headless<5), or {GUI_BOX}.")
    name = "haarcascade_frontalface_default.xml"
    cascade = bundled_cascade(name)
    if cascade is None:
        raise StudioError(f"OpenCV's face detector ({name}) is missing from this installation; "
                          "give the face's square with --box x,y,w,h",
                          gui=f"OpenCV's face detector ({name}) is missing from this installation: {GUI_BOX}.")
    return cascade


def detect_faces(rgb: np.ndarray, sizes: tuple[float, float] | None = None) -> list[Box]:
    """Frontal faces in an HxWx3 float [0,1] image, largest first (Haar boxes, not framed);
    `sizes`: only Haar boxes between these sides (px), which spares the detector every other
    scale (a tracker knows about how large the face is)."""
    h, w = rgb.shape[:2]
    scale = min(1.0, DETECT_MAX_SIDE / max(h, w))
    gray = cv2.cvtColor(np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        gray = cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    gray = cv2.equalizeHist(gray)  # evens out exposure, which Haar features are sensitive to
    smallest = max(24, round(0.04 * min(gray.shape)))
    bounds = {}
    if sizes is not None:
        smallest = max(smallest, int(sizes[0] * scale))
        largest = max(smallest + 1, int(np.ceil(sizes[1] * scale)))
        bounds = {"maxSize": (largest, largest)}
    found = _cascade().detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(smallest, smallest), **bounds)
    boxes = [tuple(int(round(v / scale)) for v in b) for b in np.asarray(found).reshape(-1, 4)]
    return sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)


@lru_cache(maxsize=1)
def _eye_cascade():
    """OpenCV's bundled eye detector, or None (levelling is then skipped)."""
    return bundled_cascade("haarcascade_eye.xml")


def eye_angle(rgb: np.ndarray, det: Box) -> float:
    """Tilt in degrees of the line from the left to the right eye inside a detected face box
    (positive: the right eye is lower), or 0.0 when two plausible eyes are not found."""
    eyes = eye_centres(rgb, det)
    if eyes is None:
        return 0.0
    (lx, ly), (rx, ry) = eyes
    angle = math.degrees(math.atan2(ry - ly, rx - lx))
    return angle if LEVEL_MIN_DEGREES <= abs(angle) <= LEVEL_MAX_DEGREES else 0.0


def eye_centres(rgb: np.ndarray, det: Box) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """The centres (x, y) of the left and the right eye inside a face box, in the photo's
    pixels, or None when two plausible eyes are not found (the largest plausible pair wins)."""
    cascade = _eye_cascade()
    x, y, w, h = det
    H, W = rgb.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + int(0.6 * h))  # eyes are in the upper part
    if cascade is None or x1 - x0 < 24 or y1 - y0 < 16:
        return None
    roi = cv2.cvtColor(np.round(np.clip(rgb[y0:y1, x0:x1], 0, 1) * 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    scale = min(1.0, 256 / roi.shape[1])  # eyes are found as well on a face 256 px wide, and faster
    if scale < 1:
        roi = cv2.resize(roi, (round(roi.shape[1] * scale), round(roi.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    roi = cv2.equalizeHist(roi)
    fw = roi.shape[1]
    eyes = cascade.detectMultiScale(roi, scaleFactor=1.1, minNeighbors=4, minSize=(max(6, fw // 12),) * 2,
                                    maxSize=(fw // 2,) * 2)
    centres = [(ex + ew / 2, ey + eh / 2, ew) for ex, ey, ew, eh in np.asarray(eyes).reshape(-1, 4)]
    best, best_size = None, 0.0
    for lx, ly, lw in centres:
        for rx, ry, rw in centres:
            dx, dy = rx - lx, ry - ly
            # One eye in each half, a face-like spacing, no steep line: otherwise a false match.
            if not (lx < fw / 2 <= rx and 0.2 * fw < dx < 0.75 * fw and abs(dy) < 0.6 * dx):
                continue
            if lw + rw > best_size:
                best, best_size = ((lx, ly), (rx, ry)), lw + rw
    if best is None:
        return None
    return tuple((x0 + (ex + 0.5) / scale - 0.5, y0 + (ey + 0.5) / scale - 0.5) for ex, ey in best)


def crop_matrix(box: Box, angle: float) -> np.ndarray:
    """2x3 affine map from crop pixels (the levelled s x s square) to photo pixels."""
    x, y, s, _ = box
    a = math.radians(angle)
    c, si = math.cos(a), math.sin(a)
    if angle == 0:
        c, si = 1.0, 0.0  # exact: whole-pixel copies
    half = (s - 1) / 2
    cx, cy = x + half, y + half
    return np.array([[c, -si, cx - (c * half - si * half)], [si, c, cy - (si * half + c * half)]], np.float64)


def face_weight(side: int) -> np.ndarray:
    """Soft ellipse over the face and hair of a CelebA-HQ-framed square: 1 in the middle,
    fading to exactly 0 before the square's edge, so no seam can show."""
    t = (np.arange(side, dtype=np.float32) + 0.5) / side - 0.5
    r = np.sqrt((t[None, :] / 0.46) ** 2 + (t[:, None] / 0.48) ** 2)  # 0 beyond 96 % of the side
    w = np.clip((1.0 - r) / 0.35, 0.0, 1.0)
    return (w * w * (3 - 2 * w)).astype(np.float32)  # smoothstep


def border_weight(side: int, margin: float = 0.08) -> np.ndarray:
    """1 over the square, fading (smoothstep) to exactly 0 at its edge over `margin` of the side:
    for changes that belong to the whole square, such as hair reaching its edge."""
    t = np.clip(np.minimum(np.arange(side) + 0.5, side - 0.5 - np.arange(side)) / (margin * side), 0, 1)
    w = np.minimum(t[None, :], t[:, None]).astype(np.float32)
    return w * w * (3 - 2 * w)


def crop_box_for_detection(det: Box) -> Box:
    """The square that frames a detected face like a CelebA-HQ training image."""
    x, y, w, h = det
    side = max(w, h) / HAAR_SIZE_RATIO
    cx = x + w / 2 - HAAR_CENTRE_DX * side
    cy = y + h / 2 - HAAR_CENTRE_DY * side
    s = int(round(side))
    return int(round(cx - s / 2)), int(round(cy - s / 2)), s, s


def square_box(box: Box) -> Box:
    """A user's box made square around its centre (the longer side wins)."""
    x, y, w, h = box
    s = max(int(w), int(h))
    if s <= 0:
        raise StudioError(f"the face box {w}x{h} is empty: give x,y,w,h with a positive size")
    return int(x) + (int(w) - s) // 2, int(y) + (int(h) - s) // 2, s, s


def mask_share_inside(mask: np.ndarray, box: Box) -> float:
    """Fraction of the mask's hole that lies inside the box (0 when the mask is empty)."""
    hole = hole_of(mask)
    total = int(hole.sum())
    if total == 0:
        return 0.0
    x, y, s, _ = box
    inside = hole[max(0, y):max(0, y + s), max(0, x):max(0, x + s)].sum()
    return float(inside) / total


def choose_face(rgb: np.ndarray, mask: np.ndarray) -> Box:
    """The framed square of the detected face that holds the mask.

    The hole must lie wholly inside that square: the model sees nothing else, so a mask that
    spills over is refused rather than silently filled only in part.
    """
    require_hole(mask)
    best, best_share = None, 0.0
    for det in detect_faces(rgb):  # largest first, so ties go to the larger face
        box = crop_box_for_detection(det)
        share = mask_share_inside(mask, box)
        if share > best_share:
            best, best_share = box, share
    if best is None:
        raise StudioError(NO_FACE, gui=GUI_NO_FACE)
    if best_share < 1.0:
        x, y, s, _ = best
        outside = f"{100 * (1 - best_share):.0f}% of the mask lies outside the face's square ({x},{y},{s},{s})"
        raise StudioError(
            f"{outside}; mask only the face, give a larger square with --box x,y,w,h, or use --engine photo",
            gui=f"{outside}: mask only the face, draw a larger face box (F), or choose the photo engine.")
    return best


def check_square(box: Box, w: int, h: int) -> None:
    """A face square must overlap the w x h photo and be at most twice its longer side: the
    square is allocated at full size, so a typo such as 999999999 must be an error, not an
    out-of-memory crash."""
    x, y, s, _ = box
    if x + s <= 0 or y + s <= 0 or x >= w or y >= h:
        raise StudioError(f"the face box {x},{y},{s},{s} lies outside the {w}x{h} image")
    if s > 2 * max(w, h):
        raise StudioError(f"the face box {x},{y},{s},{s} is far larger than the {w}x{h} image; give the "
                          "face's own square")


@dataclass
class FaceCrop:
    """A square face crop. Parts of the square outside the photo are reflect-padded
    (BORDER_REFLECT_101: the face's own surroundings mirrored, with no smeared edge rows);
    `inside` says which pixels are real so engines may trust them more."""

    box: Box  # the square in photo coordinates; may reach past the border
    image: np.ndarray  # s x s x 3 float32, original resolution, padded
    mask: np.ndarray  # s x s float32, the user's mask (0 in the padding)
    inside: np.ndarray  # s x s bool, True where the pixel lies in the photo
    image64: np.ndarray  # size x size x 3 float32: what the model sees
    mask64: np.ndarray  # size x size float32, area-averaged so it stays soft
    inside64: np.ndarray  # size x size float32, share of each pixel that is real

    @property
    def hole64(self) -> np.ndarray:
        """The model's hole: mask64 > HOLE64_THRESHOLD."""
        return self.mask64 > HOLE64_THRESHOLD


def extract(rgb: np.ndarray, mask: np.ndarray, box: Box, size: int = 64) -> FaceCrop:
    """Cut the square `box` (made square if it is not) out of the photo and its mask."""
    x, y, s, _ = box = square_box(box)
    h, w = rgb.shape[:2]
    check_square(box, w, h)
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + s), min(h, y + s)
    pads = (y0 - y, y + s - y1, x0 - x, x + s - x1)  # top, bottom, left, right
    image = cv2.copyMakeBorder(np.ascontiguousarray(rgb[y0:y1, x0:x1], np.float32), *pads, cv2.BORDER_REFLECT_101)
    m = np.clip(np.asarray(mask, np.float32)[y0:y1, x0:x1], 0, 1)
    crop_mask = cv2.copyMakeBorder(m, *pads, cv2.BORDER_CONSTANT, value=0)
    inside = cv2.copyMakeBorder(np.ones_like(m, np.uint8), *pads, cv2.BORDER_CONSTANT, value=0)
    return FaceCrop(
        box=box,
        image=image,
        mask=crop_mask,
        inside=inside.astype(bool),
        image64=_resize(image, size),
        mask64=np.clip(cv2.resize(crop_mask, (size, size), interpolation=cv2.INTER_AREA), 0, 1),
        inside64=cv2.resize(inside.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA),
    )


def paste(
    rgb: np.ndarray,
    crop: FaceCrop,
    result64: np.ndarray,
    mask: np.ndarray,
    *,
    upscale: Optional[Callable[[np.ndarray], np.ndarray]] = None,
    feather: int = 4,
    poisson: bool = False,
) -> np.ndarray:
    """Put a model's face back into the full-resolution photo.

    result64 is brought to the crop's size (by `upscale`, e.g. a face super-resolution
    model, then resized to fit; else a Lanczos resize) and blended with the user's mask
    feathered by at most `feather` pixels; with poisson=True the fill is first cloned in the
    gradient domain (cv2.seamlessClone) over that feathered region. Only pixels inside both
    the photo and the crop and within `feather` px of the mask can change; all others are
    returned exactly.
    """
    x, y, s, _ = crop.box
    h, w = rgb.shape[:2]
    # Work on the part of the crop inside the photo, with the mask read `feather` px beyond
    # it so the fade near the crop's edge is the same as it would be on the whole photo.
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + s), min(h, y + s)
    if x0 >= x1 or y0 >= y1:
        return rgb.copy()
    f = max(0, int(feather))
    wx0, wy0, wx1, wy1 = max(0, x0 - f), max(0, y0 - f), min(w, x1 + f), min(h, y1 + f)
    weight = feather_mask(np.asarray(mask)[wy0:wy1, wx0:wx1], f)[y0 - wy0:y1 - wy0, x0 - wx0:x1 - wx0]
    out = rgb.copy()
    if not (weight > 0).any():
        return out
    rows, cols = np.flatnonzero((weight > 0).any(1)), np.flatnonzero((weight > 0).any(0))
    needed = (y0 - y + rows[0], y0 - y + rows[-1] + 1, x0 - x + cols[0], x0 - x + cols[-1] + 1)
    fill = _resize(_upscaled(np.asarray(result64, np.float32), upscale, needed, s), s)
    orig = rgb[y0:y1, x0:x1]
    fill = fill[y0 - y:y1 - y, x0 - x:x1 - x].astype(rgb.dtype, copy=False)
    if poisson:
        fill = poisson_blend(orig, fill, weight)
    out[y0:y1, x0:x1] = composite(orig, fill, weight)
    return out


def _upscaled(small: np.ndarray, upscale: Optional[Callable[[np.ndarray], np.ndarray]],
              needed: tuple[int, int, int, int], side: int) -> np.ndarray:
    """`small` (n x n) brought up by `upscale` where the crop (side x side) needs it: rows and
    columns `needed` (top, bottom, left, right), with UPSCALE_CONTEXT px of context at n; the
    rest only by a bicubic resize, which the blend never shows. A small hole in a face costs a
    fraction of the super-resolution (in video, once per frame)."""
    if upscale is None:
        return small
    n = small.shape[0]
    t, b, left, r = needed
    r0, r1 = max(0, t * n // side - UPSCALE_CONTEXT), min(n, -(-b * n // side) + UPSCALE_CONTEXT)
    c0, c1 = max(0, left * n // side - UPSCALE_CONTEXT), min(n, -(-r * n // side) + UPSCALE_CONTEXT)
    if (r1 - r0) * (c1 - c0) > UPSCALE_ALL * n * n:
        return np.asarray(upscale(small), np.float32)
    part = np.asarray(upscale(np.ascontiguousarray(small[r0:r1, c0:c1])), np.float32)
    k = part.shape[0] // (r1 - r0)
    canvas = cv2.resize(small, (n * k, n * k), interpolation=cv2.INTER_CUBIC)
    canvas[r0 * k:r1 * k, c0 * k:c1 * k] = part
    return canvas


def _resize(img: np.ndarray, side: int) -> np.ndarray:
    """Square resize: area averaging when shrinking (no aliasing), Lanczos when enlarging."""
    if img.shape[0] == side and img.shape[1] == side:
        return np.clip(img, 0, 1).astype(np.float32)
    interp = cv2.INTER_AREA if side < img.shape[0] else cv2.INTER_LANCZOS4
    return np.clip(cv2.resize(img, (side, side), interpolation=interp), 0, 1).astype(np.float32)
