"""A mask for every frame of a clip (white = fill), from one of three things the user gives:

- a mask image: the same mask on every frame (a logo, a date stamp), scaled to the clip's size;
- a mask image and a key frame (`--key-frame N`): the mask was painted on frame N and follows
  its object through the clip (track.py: a first pass over the clip finds it in every frame);
- a mask video: frame i's mask is its frame i (scaled; a shorter one repeats its last frame).

`open_masks` checks the mask before any frame is processed and returns an iterator of float32
HxW masks in [0, 1] in frame order, which the engine reads in step with the frames.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from studio.batch import IMAGE_EXTS
from studio.errors import VideoError
from studio.jobs import Job
from studio.video.io import VideoInfo, VideoReader, probe


def _from_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A mask video's frame: its brightness, near-black and near-white snapped as for mask images
    (compression leaves a few levels of noise on both)."""
    m = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    if (m.shape[1], m.shape[0]) != size:
        m = cv2.resize(m, size, interpolation=cv2.INTER_AREA if size[0] < m.shape[1] else cv2.INTER_LINEAR)
    return np.where(m <= 8 / 255, 0.0, np.where(m >= 247 / 255, 1.0, m)).astype(np.float32)


def is_mask_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTS


def open_masks(path: Path, video: VideoInfo, key_frame: int | None, job: Job) -> tuple[Iterator[np.ndarray], list[str]]:
    """(masks in frame order, warnings to show). With a key frame this reads the clip once to
    follow the object (progress on job). VideoError for a mask that cannot be used."""
    path = Path(path)
    w, h = video.size
    notes: list[str] = []
    if not is_mask_image(path):
        if key_frame is not None:
            raise VideoError("--key-frame follows a mask image; a mask video already has a mask for every frame",
                             gui="A mask video already has a mask for every frame; a key frame needs a mask image.")
        return _mask_video(path, video, notes), notes
    from studio.imageio import load_mask

    mask, resized = load_mask(path, video.size)
    if not (mask > 0.5).any():
        raise VideoError(f"the mask {path.name} is empty: paint what to remove in white")
    if resized:
        notes.append(f"mask {path.name} is not {w}x{h}; rescaled it to the video")
    if key_frame is None:
        return itertools.repeat(mask), notes
    from studio.video.track import shifted, track_offsets

    offsets = track_offsets(VideoReader(video.path, video), mask, key_frame, job, video.frames or None)
    far = max(max(abs(dx), abs(dy)) for dx, dy in offsets)
    job.note(f"the mask follows its object from frame {key_frame} (it moves up to {far:.0f} px)")
    return (shifted(mask, o) for o in offsets), notes


def _mask_video(path: Path, video: VideoInfo, notes: list[str]) -> Iterator[np.ndarray]:
    info = probe(path)
    if info.size != video.size:
        notes.append(f"mask video {path.name} is {info.size[0]}x{info.size[1]}, the video {video.size[0]}x"
                     f"{video.size[1]}; rescaled it")
    if info.frames and video.frames and info.frames > video.frames:
        notes.append(f"mask video {path.name} has {info.frames} frames, the video {video.frames}; the rest are unused")
    return _masks_of(VideoReader(path, info), video.size, notes)


def _masks_of(reader: VideoReader, size: tuple[int, int], notes: list[str]) -> Iterator[np.ndarray]:
    last = None
    for rgb in reader:
        last = _from_rgb(rgb, size)
        yield last
    notes.append(f"mask video {reader.info.path.name} ends after {len(reader.pts)} frames; its last frame masks "
                 "the rest of the video")
    yield from itertools.repeat(last)
