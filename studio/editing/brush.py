"""Painting the mask: round dabs stamped along the mouse path (Qt-free, numpy).

A dab is a disc whose edge falls off over (1 - hardness) of its radius. Painting takes the
maximum of mask and dab, erasing the minimum of mask and (1 - dab), so overlapping dabs of one
stroke never build up into a darker line and a stroke's edge keeps the chosen softness.
The mask is uint8 (255 = fill) at image resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from studio.editing.history import Rect

MIN_SIZE, MAX_SIZE = 1, 4000  # the brush diameter's bounds in image pixels
SPACING = 0.2  # distance between dabs as a fraction of the radius


@dataclass
class Brush:
    radius: float = 24.0  # image pixels
    hardness: float = 0.7  # 1 = hard edge (1 px antialiasing), 0 = soft all the way to the centre

    @property
    def diameter(self) -> float:
        """What the user sets and sees (GIMP's and Krita's "size"): the painted width."""
        return 2 * self.radius


def dab(mask: np.ndarray, cx: float, cy: float, brush: Brush, erase: bool = False) -> Rect | None:
    """Stamp one dab centred at (cx, cy) in image pixels; returns the rectangle touched."""
    h, w = mask.shape
    r = brush.radius
    x0, y0 = max(0, int(math.floor(cx - r))), max(0, int(math.floor(cy - r)))
    x1, y1 = min(w, int(math.ceil(cx + r)) + 1), min(h, int(math.ceil(cy + r)) + 1)
    if x0 >= x1 or y0 >= y1:
        return None
    ys = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5 - cy
    xs = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5 - cx
    dist = np.sqrt(xs * xs + ys * ys)
    soft = max(1.0, r * (1.0 - brush.hardness))  # width of the falloff, at least one pixel
    value = np.clip((r - dist) / soft, 0.0, 1.0)
    value = (value * value * (3 - 2 * value) * 255.0 + 0.5).astype(np.uint8)  # smoothstep edge
    combine(mask[y0:y1, x0:x1], value, erase)
    return x0, y0, x1 - x0, y1 - y0


def combine(region: np.ndarray, value: np.ndarray, erase: bool) -> None:
    """Add `value` to a mask region (maximum) or take it away (minimum with its inverse), in place."""
    if erase:
        np.minimum(region, 255 - value, out=region)
    else:
        np.maximum(region, value, out=region)


def stroke(mask: np.ndarray, p0: tuple[float, float], p1: tuple[float, float], brush: Brush,
           erase: bool = False, *, first: bool = False) -> Rect | None:
    """Dabs from p0 to p1 (p0 itself only when `first`); returns the union of touched rectangles."""
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    dist = math.hypot(dx, dy)
    step = max(1.0, brush.radius * SPACING)
    n = int(dist // step)
    points = [p0] if first else []
    points += [(p0[0] + dx * i * step / dist, p0[1] + dy * i * step / dist) for i in range(1, n + 1)]
    if dist > 0 and (not points or points[-1] != p1):
        points.append(p1)
    rect = None
    for x, y in points:
        rect = union(rect, dab(mask, x, y, brush, erase))
    return rect


def union(a: Rect | None, b: Rect | None) -> Rect | None:
    if a is None:
        return b
    if b is None:
        return a
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return x0, y0, x1 - x0, y1 - y0
