"""The face engine for video: DCGAN z-search over groups of frames (Lahiri et al., ICIP 2019).

The image face engine (engines/inpaint_face.py) searches z for one photo; on a clip that is slow
(a search from scratch per frame) and flickers (each frame lands on a different z). Here:
- the face box is detected every DETECT_EVERY frames (faces.detect_faces: the face whose framed
  square holds the mask; other frames, and a frame where none is found, keep the last box) and
  smoothed over time (a centred
  moving average of its centre and side), so the crop does not jitter;
- only the first frame is searched from scratch (the image engine's search and steps); every
  group of `window` frames then starts from the previous group's last z (temporal neighbours have
  close z: prior reuse) and is refined as one batch for a few steps with the group consistency
  loss (z differences between consecutive frames of the group, and from the previous group);
- each frame's G(z) is blended back by a resize (the face SR for face squares over SR_ABOVE px) and
  Poisson blending (faces.paste; only the feathered mask changes), not by the image engine's face
  refiner: redrawing each frame's
  fill anew made it flicker more (face-fom00, 30 frames: flicker 5.53 vs 4.73, hole PSNR 22.32
  vs 22.64 dB).
Memory: one group of frames.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from studio.catalogue import VideoInpaintOptions
from studio.engines import faces
from studio.errors import StudioError
from studio.jobs import Job, quiet_job

SMOOTH = 3  # frames each side in the box's moving average
DETECT_EVERY = 3  # frames: a talking head moves little in 0.1 s, and detection costs as much as the search
JUMP = 0.25  # a detection whose centre or side moves more than this share of the side is not the face
# A clip whose face square (the median over its first group) is up to this side gets the 64-px
# fill by a Lanczos resize, a larger one by the face SR: on the three face clips (squares of
# 260-400 px) the SR's grain, new in every frame, cost hole PSNR and flicker (fom00 22.77 / 4.76
# against 22.83 / 4.51; tpsmm 21.00 / 6.03 against 21.17 / 5.83; fom04 18.23 / 5.53 against
# 18.26 / 5.40) and 0.04 s a frame.
SR_ABOVE = 512


@dataclass(frozen=True)
class GroupSearch:
    # per group, from the previous group's z (the first frame alone gets the full search); 3 steps
    # scored as 4 within 0.04 dB over 30 frames of the three face clips (0.11 dB over 120 of fom04)
    # for a quarter less of the per-frame cost
    steps: int = 3
    lr: float = 0.02  # Adam's first steps move z by about lr: small, as z already fits
    group: float = 2.0  # weight of the group consistency loss; 0 turns it off
    patience: int = 0  # a fixed few steps: the loss barely moves, and the group's frames move together
    max_window: int = 16  # frames optimised as one batch (a longer --window is cut into groups this long)


class FaceTrack:
    """The face's square in successive frames: detected in each, smoothed over time."""

    def __init__(self):
        self.raw: list[np.ndarray] = []  # (cx, cy, side) per frame seen, detections held over misses

    def add(self, rgb: np.ndarray, mask: np.ndarray, every: int = DETECT_EVERY) -> bool:
        """Detect in one frame (float RGB) out of `every` (the others keep the last box); False when
        no face holds the mask. After the first frame, a detection far from the last box (a false
        one, or another face) counts as a miss."""
        if self.raw and len(self.raw) % every:
            self.raw.append(self.raw[-1])
            return True
        best, score = None, -np.inf
        sizes = None
        if self.raw:  # a detection whose side jumps by more than JUMP is dropped below: don't look for it
            haar = self.raw[-1][2] * faces.HAAR_SIZE_RATIO
            sizes = (haar * (1 - JUMP), haar * (1 + JUMP))
        for det in faces.detect_faces(rgb, sizes):
            x, y, s, _ = box = faces.crop_box_for_detection(det)
            if self.raw:
                cx, cy, side = self.raw[-1]
                jump = max(abs(x + s / 2 - cx), abs(y + s / 2 - cy), abs(s - side)) / side
                if jump > JUMP:
                    continue
                rank = -jump
            else:
                rank = faces.mask_share_inside(mask, box)
                if rank <= 0:
                    continue
            if rank > score:
                best, score = box, rank
        if best is None:
            if not self.raw:
                return False
            self.raw.append(self.raw[-1])
            return True
        x, y, s, _ = best
        self.raw.append(np.array([x + s / 2, y + s / 2, s], np.float64))
        return True

    def box(self, i: int, last: int) -> faces.Box:
        """Frame i's smoothed square, from detections up to frame `last` (those after i that have
        been seen: the group's)."""
        lo, hi = max(0, i - SMOOTH), min(last, i + SMOOTH) + 1
        cx, cy, s = np.mean(self.raw[lo:hi], axis=0)
        side = int(round(s))
        return int(round(cx - side / 2)), int(round(cy - side / 2)), side, side


class FaceVideoInpainter:
    name = "face"

    def __init__(self, image_engine, settings: GroupSearch | None = None):
        """image_engine: engines.inpaint_face.FaceInpainter (its search, upscale and feather are used)."""
        self.image = image_engine
        self.settings = settings or GroupSearch()
        self.group_steps: list[int] = []  # steps of each search in the last run (the first: from scratch)
        self.z: list[np.ndarray] = []  # each frame's z in the last run

    def run(self, frames: Iterable[np.ndarray], masks: Iterable[np.ndarray], options: VideoInpaintOptions,
            job: Job | None = None, total: int | None = None) -> Iterator[np.ndarray]:
        """Output frames (RGB uint8), one per input frame, in order; see engine.py for the contract."""
        job = job or quiet_job()
        track, done, z_last = FaceTrack(), 0, None
        self.group_steps, self.z = [], []
        size = max(1, min(options.window, self.settings.max_window))
        pairs = zip(frames, masks)
        while True:
            group = list(itertools.islice(pairs, size))
            if not group:
                break
            rgbs = [f.astype(np.float32) / 255.0 for f, _ in group]
            ms = [np.asarray(m, np.float32) for _, m in group]
            for k, (rgb, m) in enumerate(zip(rgbs, ms)):
                if not track.add(rgb, m):
                    raise StudioError(f"no face found that holds the mask in frame {done + k + 1}; use --engine scene",
                                      gui="No face found that holds the mask: choose the Scene engine.")
            seen = len(track.raw) - 1
            crops = []
            for k, m in enumerate(ms):
                box = track.box(done + k, seen)
                if faces.mask_share_inside(m, box) < 1.0:
                    x, y, s, _ = box
                    raise StudioError(f"frame {done + k + 1}: part of the mask lies outside the face's square "
                                      f"({x},{y},{s},{s}); mask only the face, or use --engine scene",
                                      gui="Part of the mask lies outside the face: mask only the face, or "
                                          "choose the Scene engine.")
                crops.append(faces.extract(rgbs[k], m, box, 64))
            if done == 0:  # once per clip: a choice flipping from frame to frame would flicker
                side = float(np.median([c.box[2] for c in crops]))
                sr = self.image.upscale if side > SR_ABOVE else None
            part = job.span(done / total, (done + len(group)) / total) if total else job
            images, z_last = self._search(crops, z_last, part)
            for k, crop in enumerate(crops):
                out = faces.paste(rgbs[k], crop, images[k], ms[k], upscale=sr, feather=self.image.feather, poisson=True)
                out = np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)
                done += 1
                job.progress(done / total if total else 0.0, f"frame {done}" + (f" of {total}" if total else ""),
                             preview=out.astype(np.float32) / 255.0)
                yield out
        if self.group_steps:
            later = self.group_steps[1:]
            job.note(f"face engine: frame 1 searched from scratch in {self.group_steps[0]} steps, then "
                     f"{len(later)} group{'s' * (len(later) != 1)} of up to {size} frames refined from the "
                     f"previous z in {np.mean(later) if later else 0:.1f} steps each")

    def _search(self, crops: list[faces.FaceCrop], z_last: np.ndarray | None, job: Job):
        """(G(z) of each crop, the group's last z)."""
        lat = self.image.search
        if z_last is None:  # the first frame: the image engine's own search from scratch
            # as for a pasted fill: the image engine cuts the search short only when its refiner
            # redraws the fill, which this engine does not use (see the module's last point)
            first = lat.search(crops[0].image64, crops[0].hole64, self.image.pasted_search_options,
                               job.span(0.0, 0.6), seed=0, trust=crops[0].inside64)
            self.group_steps.append(first.steps)
            z_last = first.z
            job = job.span(0.6, 1.0)
        g = self.settings
        # no critic term: at its weight (0.003) it changed no figure to two decimals over 4 steps from
        # a fitted z (fom00, fom04), and its forward and backward pass cost 5 % of the frame
        opts = dataclasses.replace(self.image.search_options, steps=g.steps, lr=g.lr, patience=g.patience,
                                   perceptual=0.0)
        res = lat.refine_group([c.image64 for c in crops], [c.hole64 for c in crops],
                               np.repeat(z_last[None], len(crops), 0), opts, group=g.group, before=z_last,
                               trust=[c.inside64 for c in crops], job=job)
        self.group_steps.append(res.steps)
        self.z.extend(res.z)
        return list(res.image), res.z[-1]
