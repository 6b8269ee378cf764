"""The face engine for video (issue 21): z-search over groups of frames with prior reuse and the
group consistency loss, the face box tracked and smoothed, blended back like the image engine.
A randomly initialised tiny DCGAN and generated frames; face detection is replaced by a fixed
(jittered) box, as OpenCV's Haar cascade finds no face in noise."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import torch

from studio.catalogue import VideoInpaintOptions
from studio.checkpoints import save_checkpoint
from studio.engines import faces
from studio.engines.inpaint_face import FaceInpainter
from studio.engines.latent_search import SearchOptions
from studio.jobs import Job
from studio.nets.dcgan import DCGAN64
from studio.video import face as video_face
from studio.video.engine import VideoInpainter

S = 96  # frame side
DET = (30, 34, 36, 36)  # the "detected" Haar box; its framed square lies inside the frame


def tiny_dcgan() -> DCGAN64:
    torch.manual_seed(0)
    return DCGAN64(ngf=8, ndf=8, nef=8)


def clip(n: int = 10, seed: int = 0):
    """(frames, masks): smooth random frames that change from one to the next, a still hole."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.random((S, S, 3)).astype(np.float32), (0, 0), 4)
    frames = []
    for t in range(n):
        f = base + 0.25 * cv2.GaussianBlur(rng.random((S, S, 3)).astype(np.float32), (0, 0), 3)
        frames.append(np.round(np.clip(f / f.max(), 0, 1) * 255).astype(np.uint8))
    mask = np.zeros((S, S), np.float32)
    mask[44:60, 38:58] = 1.0
    return frames, [mask] * n


@pytest.fixture(autouse=True)
def one_thread():
    """The tiny net runs fastest on one thread; on a busy machine more threads spin (10x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def fixed_face(monkeypatch):
    """detect_faces finds DET moved by a per-call jitter, plus a false face far away."""
    calls = []

    def detect(rgb, sizes=None):
        calls.append(sizes)
        j = (-2, 2)[len(calls) % 2]
        return [(DET[0] + j, DET[1] - j, DET[2], DET[3]), (0, 0, 20, 20)]

    monkeypatch.setattr(faces, "detect_faces", detect)
    return calls


def engine(**group) -> video_face.FaceVideoInpainter:
    image = FaceInpainter(tiny_dcgan(), search=SearchOptions(steps=20, random_starts=8, patience=0), upscale=None)
    return video_face.FaceVideoInpainter(image, video_face.GroupSearch(**group))


def test_each_frame_out_changes_only_the_feathered_mask_and_later_groups_reuse_z(fixed_face):
    frames, masks = clip(10)
    eng, job = engine(), Job()
    outs = list(eng.run(iter(frames), iter(masks), VideoInpaintOptions(window=4), job, total=10))
    assert len(outs) == 10 and all(o.shape == f.shape and o.dtype == np.uint8 for o, f in zip(outs, frames))
    near = cv2.dilate(masks[0], np.ones((2 * 2 + 3,) * 2, np.uint8)) > 0  # the image engine's 2 px feather
    for o, f in zip(outs, frames):
        assert np.array_equal(o[~near], f[~near])
        assert np.abs(o[masks[0] > 0].astype(int) - f[masks[0] > 0]).mean() > 1  # the hole was filled
    # The first frame is searched from scratch (20 steps), then 3 groups refined from the previous z.
    assert eng.group_steps[0] == 20 and len(eng.group_steps) == 4
    assert all(s <= video_face.GroupSearch().steps for s in eng.group_steps[1:])
    assert any("refined from the previous z" in n for n in job.notes)


def test_the_group_loss_keeps_consecutive_z_close(fixed_face):
    frames, masks = clip(8, seed=1)
    diffs = {}
    for weight in (0.0, 2.0):
        eng = engine(group=weight, steps=20, lr=0.05)
        list(eng.run(iter(frames), iter(masks), VideoInpaintOptions(window=8)))
        z = np.stack(eng.z)
        diffs[weight] = float(np.linalg.norm(z[1:] - z[:-1], axis=1).mean())
    assert diffs[2.0] < 0.5 * diffs[0.0]


def test_the_face_box_is_smoothed_and_ignores_a_far_detection(fixed_face):
    track, mask = video_face.FaceTrack(), clip(1)[1][0]
    rgb = np.zeros((S, S, 3), np.float32)
    for _ in range(9):
        assert track.add(rgb, mask, every=1)
    raw = [faces.crop_box_for_detection((DET[0] + j, DET[1] - j, DET[2], DET[3])) for j in (2, -2)]
    assert abs(raw[0][0] - raw[1][0]) >= 4  # the detections jump 4 px from frame to frame...
    xs = [track.box(i, 8)[0] for i in range(2, 7)]
    assert max(xs) - min(xs) <= 1  # ...the smoothed square does not
    # after the first frame the detector looks only for faces of about the last one's size
    assert fixed_face[0] is None and all(lo < DET[2] < hi < 1.5 * DET[2] for lo, hi in fixed_face[1:])


def test_cancel_in_the_face_engine_leaves_no_output(tmp_path, fixed_face, model_folders):
    from tests.test_video import cancelled_at_frame_3

    save_checkpoint(tiny_dcgan(), model_folders[1] / "dcgan-faces64", architecture="dcgan64",
                    config={"ngf": 8, "ndf": 8, "nef": 8}, card={})
    frames, masks = clip(8)
    inpainter = VideoInpainter()
    inpainter.face_engine().image.search_options = SearchOptions(steps=10, patience=0)
    seen = [p.message for p in cancelled_at_frame_3(inpainter, VideoInpaintOptions(engine="face", window=4), frames,
                                                     masks[0], tmp_path)]
    assert "frame 2 of 8" in seen and not any(m.startswith("frame 4") for m in seen)


def test_the_first_frame_gets_the_full_search_even_when_the_image_engine_has_a_refiner(fixed_face, monkeypatch):
    image = FaceInpainter(tiny_dcgan(), upscale=None, refiner=lambda *a: None)  # stands for an installed refiner
    assert image.search_options.steps < image.pasted_search_options.steps == SearchOptions().steps
    seen = []
    search = image.search.search

    def spy(img, hole, opts, *args, **kwargs):
        seen.append(opts.steps)
        return search(img, hole, dataclasses.replace(opts, steps=3), *args, **kwargs)  # quick, all the same

    monkeypatch.setattr(image.search, "search", spy)
    frames, masks = clip(4)
    list(video_face.FaceVideoInpainter(image).run(iter(frames), iter(masks), VideoInpaintOptions(window=4)))
    assert seen == [SearchOptions().steps]  # the video engine pastes its fill: no short search for it


def test_only_large_face_squares_get_the_face_sr(fixed_face, monkeypatch):
    calls = []

    def sr(img):
        calls.append(img.shape)
        return cv2.resize(img, (img.shape[1] * 4, img.shape[0] * 4), interpolation=cv2.INTER_CUBIC)

    image = FaceInpainter(tiny_dcgan(), search=SearchOptions(steps=3, random_starts=2, patience=0), upscale=sr)
    frames, masks = clip(3)
    list(video_face.FaceVideoInpainter(image).run(iter(frames), iter(masks), VideoInpaintOptions(window=4)))
    assert calls == []  # a small face: the 64-px fill is resized, the SR's grain would flicker
    monkeypatch.setattr(video_face, "SR_ABOVE", 0)
    list(video_face.FaceVideoInpainter(image).run(iter(frames), iter(masks), VideoInpaintOptions(window=4)))
    assert len(calls) == 3
