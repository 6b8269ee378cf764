"""The scene engine: remove an object or a mark from any clip, the photo engine made temporally
consistent.

Frames are processed in windows of `options.window` frames. In a window, every hidden pixel
(the mask, grown by `options.grow` px) is looked up in the other frames along the camera's
motion (motion.py), nearest frame first; where another frame shows it, it is copied from there
(bilinear, once: the source's own pixel, not a copy of a copy). A still camera's background
therefore comes back exactly. Pixels that move on their own (dense DIS optical flow against the
camera's motion: passers-by) are never copied: along the camera's motion they would land where
the background was. What no frame of the window shows is filled once, by the photo engine on a
key frame (the one missing most, with surroundings most like the usual ones; with a still camera
it sees the per-pixel median of the frames around the hole, a clean plate without passers-by),
and that fill is copied to the other frames along the same motion, so it does not shimmer. If
pixels are still open after MAX_KEYS key frames (a fast pan that keeps uncovering new ground),
Telea fills them frame by frame. Where the camera's motion is unknown (motion.py), nothing is
copied across: each stretch of frames the motion joins is filled on its own, a lone frame by the
photo engine alone (as slow as filling every frame, and as unsteady).

Windows follow each other seamlessly: the last CONTEXT output frames of a window are sources for
the next one (after real observations, before new key frames), so a fill carries on.

Memory: one window of frames (uint8) plus CONTEXT previous outputs and the key fills.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from studio.catalogue import InpaintOptions, VideoInpaintOptions
from studio.jobs import Job, quiet_job
from studio.video.motion import CameraMotion, apply

REAL, CARRIED, FILLED = 0, 1, 2  # source ranks: a pixel comes from the best rank, then the nearest frame
MAX_KEYS = 4  # photo-engine fills per window
CONTEXT = 4  # output frames of one window that the next one reads from
MOVING_PX = 1.5  # flow this far (full-resolution px) from the camera's motion marks a moving object


@dataclass
class _Frame:
    rgb: np.ndarray  # HxWx3 uint8: the input frame (a carried frame: its output)
    hole: np.ndarray  # HxW bool: the pixels to rebuild
    to_prev: np.ndarray  # homography into the previous frame's pixel coordinates
    index: int  # in the clip
    carried: bool = False


@dataclass
class _Source:
    rgb: np.ndarray
    valid: np.ndarray | None  # HxW bool: pixels that may be read (bilinear's neighbours included); None: all
    rank: int
    index: int  # frame number in the clip
    pos: int  # position in the window's frame list (whose homography maps into it)


@dataclass
class _Fill:
    """Where each hidden pixel of one frame comes from."""
    ys: np.ndarray
    xs: np.ndarray
    src: np.ndarray = field(init=False)  # index into the window's sources; -1 = open
    qx: np.ndarray = field(init=False)
    qy: np.ndarray = field(init=False)

    def __post_init__(self):
        self.src = np.full(len(self.ys), -1, np.int32)
        self.qx = np.zeros(len(self.ys), np.float64)
        self.qy = np.zeros(len(self.ys), np.float64)

    def open(self) -> np.ndarray:
        return np.flatnonzero(self.src < 0)


def grown_hole(mask: np.ndarray, grow: int) -> np.ndarray:
    hole = np.asarray(mask) > 0.5
    if grow > 0 and hole.any():
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
        hole = cv2.dilate(hole.astype(np.uint8), kernel) > 0
    return hole


def bilinear(img: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """img (HxWx3 uint8) at float positions inside it, rounded to uint8. Whole-pixel positions
    return the pixel itself exactly."""
    h, w = img.shape[:2]
    x0 = np.minimum(np.floor(x).astype(np.intp), w - 1)
    y0 = np.minimum(np.floor(y).astype(np.intp), h - 1)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
    bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
    return np.clip(np.round(top * (1 - fy) + bottom * fy), 0, 255).astype(np.uint8)


class _Chain:
    """Where a pixel of one frame of a window lies in another, through the motion between
    consecutive frames. An unknown motion (None) cuts the window into stretches whose frames
    never map into each other."""

    def __init__(self, frames: list[_Frame]):
        self.seg: list[int] = []
        self.to_first: list[np.ndarray] = []  # into the first frame of the frame's stretch
        for j, f in enumerate(frames):
            joined = j > 0 and f.to_prev is not None
            self.seg.append(self.seg[-1] + (not joined) if j else 0)
            self.to_first.append(self.to_first[-1] @ f.to_prev if joined else np.eye(3))
        self.inverse = [np.linalg.inv(t) for t in self.to_first]

    def between(self, j: int, s: int) -> np.ndarray | None:
        """Homography from frame j's pixel coordinates into frame s's; None across a cut."""
        return self.inverse[s] @ self.to_first[j] if self.seg[j] == self.seg[s] else None


class SceneInpainter:
    name = "scene"

    def __init__(self, fill, *, max_keys: int = MAX_KEYS, context: int = CONTEXT):
        """fill: an image engine, run(rgb float32 [0, 1], mask, InpaintOptions, job) -> rgb, for what no
        frame shows (the photo engine; Telea without a model)."""
        self.fill, self.max_keys, self.context = fill, int(max_keys), int(context)

    def run(self, frames: Iterable[np.ndarray], masks: Iterable[np.ndarray], options: VideoInpaintOptions,
            job: Job | None = None, total: int | None = None) -> Iterator[np.ndarray]:
        """Output frames (RGB uint8), one per input frame, in order; see engine.py for the contract."""
        job = job or quiet_job()
        motion = CameraMotion()
        carried: list[_Frame] = []
        stats = dict(hidden=0, seen=0, carried=0, filled=0, telea=0, keys=0)
        done = 0
        pairs = zip(frames, masks)
        while True:
            window = []
            for rgb, mask in itertools.islice(pairs, options.window):
                hole = grown_hole(mask, options.grow)
                window.append(_Frame(rgb, hole, motion.step(rgb, hole), done + len(window)))
            if not window:
                break
            part = job.span(done / total, (done + len(window)) / total) if total else job
            outputs = self._window(carried + window, len(carried), options, part, stats)
            for out in outputs:
                done += 1
                job.progress(done / total if total else 0.0, f"frame {done}" + (f" of {total}" if total else ""),
                             preview=out.astype(np.float32) / 255.0)
                yield out
            # The next window reads this one's last outputs; their hidden pixels rank as carried.
            carried = [_Frame(out, f.hole, f.to_prev, f.index, carried=True)
                       for f, out in zip(window, outputs)][-self.context:] if self.context else []
        if motion.unknown:
            job.note(f"the camera's motion was not found between {motion.unknown} pairs of frames (too little "
                     "texture, or no one motion for the whole frame); nothing was copied across them")
        if stats["hidden"]:
            job.note(_summary(stats))

    # ------------------------------------------------------------------ one window

    def _window(self, frames: list[_Frame], first: int, options: VideoInpaintOptions, job: Job,
                stats: dict) -> list[np.ndarray]:
        """Outputs of frames[first:] (the others are carried outputs of the previous window)."""
        chain = _Chain(frames)
        sources, moving = [], [_moving(frames, chain, pos) for pos in range(len(frames))]
        for pos, f in enumerate(frames):
            known = cv2.erode((~f.hole).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            sources.append(_Source(f.rgb, known & ~moving[pos], REAL, f.index, pos))
            if f.carried:
                sources.append(_Source(f.rgb, None, CARRIED, f.index, pos))
        targets = list(range(first, len(frames)))
        fills = {}
        for j in targets:
            ys, xs = np.nonzero(frames[j].hole)
            fills[j] = _Fill(ys, xs)
            self._assign(fills[j], j, frames, sources, range(len(sources)), chain)
        job.progress(0.2, "copying what other frames show")
        # Key frames: at most max_keys in a stretch of frames the motion joins; a frame the motion
        # joins to none is its own stretch, and gets its own fill.
        keys = {seg: 0 for seg in chain.seg}
        runs = len(set(chain.seg[j] for j in targets)) * self.max_keys
        while True:
            left = {j: len(fills[j].open()) for j in targets if keys[chain.seg[j]] < self.max_keys}
            if not left or max(left.values()) == 0:
                break
            k = self._key_frame(left, frames, chain)
            picture = self._render(frames[k], fills[k], sources)
            mask = np.zeros(frames[k].hole.shape, np.float32)
            opened = fills[k].open()
            mask[fills[k].ys[opened], fills[k].xs[opened]] = 1.0
            _clean_plate(picture, mask > 0, frames, chain, k)
            # The fill is copied along the camera's motion, so it must continue the background:
            # whatever moves on its own next to the hole is filled too (and never copied).
            near = cv2.dilate(frames[k].hole.astype(np.uint8), np.ones((31, 31), np.uint8)) > 0
            mask[moving[k] & near] = 1.0
            done = sum(keys.values())
            span = job.span(0.2 + 0.7 * done / runs, 0.2 + 0.7 * (done + 1) / runs)
            span.progress(0.0, f"filling what no frame shows (frame {frames[k].index + 1})")
            filled = self.fill.run(picture.astype(np.float32) / 255.0, mask,
                                   InpaintOptions(detail=options.detail), span)
            filled = np.clip(np.round(filled * 255.0), 0, 255).astype(np.uint8)
            sources.append(_Source(filled, None, FILLED, frames[k].index, k))
            keys[chain.seg[k]] += 1
            for j in targets:
                self._assign(fills[j], j, frames, sources, [len(sources) - 1], chain)
        stats["keys"] += sum(keys.values())
        outputs = []
        ranks = np.array([s.rank for s in sources])
        for j in targets:
            used = ranks[fills[j].src[fills[j].src >= 0]]
            stats["hidden"] += len(fills[j].src)
            for name, rank in (("seen", REAL), ("carried", CARRIED), ("filled", FILLED)):
                stats[name] += int((used == rank).sum())
            out = self._render(frames[j], fills[j], sources)
            opened = fills[j].open()
            if len(opened):  # what the key frames did not reach: Telea, this frame alone
                rest = np.zeros(out.shape[:2], np.uint8)
                rest[fills[j].ys[opened], fills[j].xs[opened]] = 255
                out = cv2.inpaint(out, rest, 3, cv2.INPAINT_TELEA)
                stats["telea"] += len(opened)
            outputs.append(out)
        return outputs

    @staticmethod
    def _key_frame(left: dict[int, int], frames: list[_Frame], chain: "_Chain") -> int:
        """The frame to fill with the photo engine: one of those with the most open pixels (within
        10 %), and among them the one whose surroundings of the hole look most like the usual
        ones (per-pixel median over the frames the motion joins it to). The fill is copied to
        those frames, so a passer-by at the hole's edge in the key frame would be continued into
        the hole and stay there for the whole window."""
        most = max(left.values())
        candidates = [j for j, n in left.items() if n >= 0.9 * most]
        candidates = candidates[::max(1, len(candidates) // 12)]  # a dozen are plenty to choose from
        h, w = frames[candidates[0]].hole.shape
        best, choice = np.inf, candidates[0]
        for k in candidates:
            others = [j for j in left if chain.seg[j] == chain.seg[k]]
            others = others[::max(1, len(others) // 12)]
            if len(candidates) == 1 or len(others) < 3:
                return k
            hole = frames[k].hole.astype(np.uint8)
            ring = (cv2.dilate(hole, np.ones((17, 17), np.uint8)) > 0) & ~frames[k].hole
            ys, xs = np.nonzero(ring)
            ys, xs = ys[::3], xs[::3]
            seen = np.full((len(others), len(ys), 3), np.nan, np.float32)
            for row, j in enumerate(others):
                q = apply(chain.between(k, j), np.stack([xs, ys], 1).astype(np.float64))
                qx, qy = np.round(q[:, 0]).astype(np.intp), np.round(q[:, 1]).astype(np.intp)
                ok = (qx >= 0) & (qy >= 0) & (qx < w) & (qy < h)
                ok[ok] = ~frames[j].hole[qy[ok], qx[ok]]
                seen[row, ok] = frames[j].rgb[qy[ok], qx[ok]]
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # ring pixels no frame shows: NaN, skipped
                usual = np.nanmedian(seen, axis=0)
                score = np.nanmean(np.abs(frames[k].rgb[ys, xs].astype(np.float32) - usual))
            if score < best:
                best, choice = score, k
        return choice

    @staticmethod
    def _assign(fill: _Fill, j: int, frames: list[_Frame], sources: list[_Source], candidates,
                chain: "_Chain") -> None:
        """Give the open pixels of frame j the best source that shows them: lowest rank, then
        nearest frame."""
        h, w = frames[j].hole.shape
        order = sorted(candidates, key=lambda s: (sources[s].rank, abs(sources[s].index - frames[j].index)))
        rest = fill.open()
        for s in order:
            if len(rest) == 0:
                return
            src = sources[s]
            m = chain.between(j, src.pos)
            if m is None or (src.pos == j and src.rank == REAL):
                continue  # no known motion; or its own hidden pixels, which are what is missing
            x, y = fill.xs[rest].astype(np.float64), fill.ys[rest].astype(np.float64)
            if not np.array_equal(m, np.eye(3)):
                q = apply(m, np.stack([x, y], 1))
                x, y = q[:, 0], q[:, 1]
            ok = (x >= 0) & (y >= 0) & (x <= w - 1) & (y <= h - 1)
            if src.valid is not None:
                ok[ok] = src.valid[np.round(y[ok]).astype(np.intp), np.round(x[ok]).astype(np.intp)]
            hit = rest[ok]
            fill.src[hit], fill.qx[hit], fill.qy[hit] = s, x[ok], y[ok]
            rest = rest[~ok]

    @staticmethod
    def _render(frame: _Frame, fill: _Fill, sources: list[_Source]) -> np.ndarray:
        out = frame.rgb.copy()
        for s in np.unique(fill.src[fill.src >= 0]):
            sel = fill.src == s
            out[fill.ys[sel], fill.xs[sel]] = bilinear(sources[s].rgb, fill.qx[sel], fill.qy[sel])
        return out


def _moving(frames: list[_Frame], chain: _Chain, j: int, max_side: int = 480) -> np.ndarray:
    """Pixels of frame j that move otherwise than the camera (a passer-by, a skater the camera
    follows): dense optical flow (DIS) to a neighbouring frame, against the camera's motion.
    Such pixels are not copied into other frames: along the camera's motion they land where the
    background was, not where the object went."""
    h, w = frames[j].hole.shape
    nb = next((n for n in (j - 1, j + 1) if 0 <= n < len(frames) and chain.seg[n] == chain.seg[j]), None)
    if nb is None:
        return np.zeros((h, w), bool)
    s = min(1.0, max_side / max(h, w))
    size = (max(8, round(w * s)), max(8, round(h * s)))
    grays = []
    for f in (frames[j], frames[nb]):
        g = cv2.resize(cv2.cvtColor(f.rgb, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA)
        hole = cv2.resize(f.hole.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
        grays.append(cv2.inpaint(g, hole, 3, cv2.INPAINT_TELEA) if hole.any() else g)  # the occluder's own flow out
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST).calc(grays[0], grays[1], None)
    scale = np.diag([size[0] / w, size[1] / h, 1.0])
    m = scale @ chain.between(j, nb) @ np.linalg.inv(scale)
    gx, gy = np.meshgrid(np.arange(size[0], dtype=np.float64), np.arange(size[1], dtype=np.float64))
    grid = np.stack([gx.ravel(), gy.ravel()], 1)
    camera = (apply(m, grid) - grid).reshape(size[1], size[0], 2)
    off = (np.linalg.norm(flow - camera, axis=2) > MOVING_PX * s).astype(np.uint8)
    off = cv2.dilate(off, np.ones((3, 3), np.uint8))
    return cv2.resize(off, (w, h), interpolation=cv2.INTER_NEAREST) > 0


def _clean_plate(picture: np.ndarray, hole: np.ndarray, frames: list[_Frame], chain: _Chain, k: int,
                 most: int = 15) -> None:
    """With a still camera, put the per-pixel median of the stretch's frames around the key frame's
    hole (in place): the photo engine then continues the background, not someone walking past the
    hole in that one frame, whose continuation would stay in the hole for the whole window."""
    members = [j for j in range(len(frames)) if chain.seg[j] == chain.seg[k]]
    if len(members) < 3 or any(not np.array_equal(chain.to_first[j], np.eye(3)) for j in members):
        return
    members = members[::max(1, len(members) // most)]
    x, y, w, h = cv2.boundingRect(hole.astype(np.uint8))
    m = max(32, max(w, h) // 2)  # the photo engine's context reaches about half the hole's size
    y0, y1, x0, x1 = max(0, y - m), min(hole.shape[0], y + h + m), max(0, x - m), min(hole.shape[1], x + w + m)
    stack = np.stack([np.where(frames[j].hole[y0:y1, x0:x1, None], np.nan, frames[j].rgb[y0:y1, x0:x1])
                      for j in members]).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # pixels hidden in every frame stay as they are
        plate = np.nanmedian(stack, axis=0)
    crop, keep = picture[y0:y1, x0:x1], np.isfinite(plate[..., 0]) & ~hole[y0:y1, x0:x1]
    crop[keep] = np.round(plate[keep]).astype(np.uint8)


def _summary(stats: dict) -> str:
    share = lambda k: f"{100.0 * stats[k] / stats['hidden']:.0f} %"  # noqa: E731
    text = f"scene engine: {share('seen')} of the hidden pixels copied from frames that show them"
    if stats["carried"]:
        text += f", {share('carried')} carried over from the previous window"
    if stats["keys"]:
        text += f", {share('filled')} from {stats['keys']} photo-engine fill{'s' * (stats['keys'] > 1)}"
    if stats["telea"]:
        text += f", {share('telea')} by Telea frame by frame"
    return text
