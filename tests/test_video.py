"""Video restoration (issue 21): I/O that keeps fps, frames, audio and rotation; one clear error per
bad file; masks for every frame; the scene engine; cancel. Every clip is made here, tiny."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from studio.catalogue import VideoInpaintOptions
from studio.cli import main
from studio.engines.inpaint_classic import ClassicInpainter
from studio.errors import Cancelled, VideoError
from studio.jobs import CancelToken, Job, quiet_job
from studio.metrics import psnr
from studio.video.engine import VideoInpainter
from studio.video.io import VideoReader, probe, write_video

W, H = 96, 64


def write_clip(path: Path, frames, fps: int = 10, audio: bool = False, rotation: int = 0, fmt: str | None = None,
               options: dict | None = None) -> Path:
    """A clip as a camera app would write it (PyAV directly, not the code under test); near-lossless."""
    out = av.open(str(path), "w", format=fmt, options=options or {})
    v = out.add_stream("libx264", rate=fps)
    v.height, v.width = frames[0].shape[:2]
    v.pix_fmt, v.options = "yuv444p", {"crf": "0"}
    if rotation:
        v.set_display_rotation(rotation)
    a = out.add_stream("aac", rate=22050) if audio else None
    for f in frames:
        out.mux(v.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")))
    out.mux(v.encode(None))
    if a is not None:
        t, tone = 0, np.sin(np.arange(1024 * 24) * 0.05).astype(np.float32)[None] * 0.2
        for k in range(0, tone.shape[1], 1024):
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, k:k + 1024]), format="fltp", layout="mono")
            af.sample_rate, af.pts, t = 22050, t, t + 1024
            out.mux(a.encode(af))
        out.mux(a.encode(None))
    out.close()
    return path


def background(seed: int = 0) -> np.ndarray:
    """Texture with detail at several scales: a copied-wrong pixel shows."""
    rng = np.random.default_rng(seed)
    noise = rng.random((H, W, 3)).astype(np.float32)
    img = 0.5 * cv2.GaussianBlur(noise, (0, 0), 3) + 0.5 * noise
    img = (img - img.min()) / (img.max() - img.min())
    return np.round(img * 255).astype(np.uint8)


def moving_square(n: int = 12, size: int = 14, step: int = 5):
    """(truth frames, damaged frames, masks): a square sliding over a still background."""
    bg = background()
    truth, damaged, masks = [], [], []
    for t in range(n):
        m = np.zeros((H, W), np.float32)
        x, y = 8 + step * t, 20 + (t % 3)
        m[y:y + size, x:x + size] = 1
        truth.append(bg)
        damaged.append(np.where(m[..., None] > 0, np.uint8(230), bg).astype(np.uint8))
        masks.append(m)
    return truth, damaged, masks


def flicker(outs, truth, masks) -> float:
    vals = []
    for t in range(1, len(outs)):
        where = (masks[t] > 0) | (masks[t - 1] > 0)
        d = (outs[t].astype(np.float32) - outs[t - 1]) - (truth[t].astype(np.float32) - truth[t - 1])
        vals.append(np.abs(d[where]).mean())
    return float(np.mean(vals))


def telea_engine() -> VideoInpainter:
    return VideoInpainter(fill=ClassicInpainter())


# ---------------------------------------------------------------- I/O


def test_round_trip_keeps_fps_frames_audio_rotation_and_timestamps(tmp_path):
    frames = [np.roll(background(), 3 * t, axis=1) for t in range(12)]
    src = write_clip(tmp_path / "in.mp4", frames, fps=12, audio=True, rotation=90)
    info = probe(src)
    assert (info.size, info.rotation, info.frames, info.fps, info.audio) == ((H, W), 90, 12, Fraction(12), "aac")
    reader = VideoReader(src, info)
    shown = list(reader)
    assert shown[0].shape == (W, H, 3)  # display orientation: turned by the rotation matrix
    assert psnr(shown[5], np.rot90(frames[5]), peak=255.0) > 40

    out = tmp_path / "out.mp4"
    assert write_video(out, ((f, reader.pts[i]) for i, f in enumerate(shown)), info, crf=10) == []
    back = probe(out)
    assert (back.size, back.rotation, back.frames, back.fps, back.audio) == ((H, W), 90, 12, Fraction(12), "aac")
    luma = lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)  # noqa: E731 (4:2:0 halves the colour's resolution)
    assert psnr(luma(list(VideoReader(out))[5]), luma(shown[5]), peak=255.0) > 35

    def audio_packets(path):
        with av.open(str(path)) as c:
            return [(p.pts, bytes(p)) for p in c.demux(c.streams.audio[0]) if p.dts is not None]

    assert audio_packets(out) == audio_packets(src)  # copied, not re-encoded
    with av.open(str(out)) as c:
        assert [f.pts for f in c.decode(video=0)] == reader.pts
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".studio")] == []


def _truncated(tmp_path, faststart: bool) -> Path:
    src = write_clip(tmp_path / "whole.mp4", [background(t) for t in range(10)], audio=True,
                     options={"movflags": "faststart"} if faststart else None)
    data = src.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[:len(data) * 6 // 10])
    return tmp_path / "cut.mp4"


def _zero_frames(tmp_path) -> Path:
    out = av.open(str(tmp_path / "zero.mp4"), "w")
    v = out.add_stream("libx264", rate=10)
    v.width, v.height, v.pix_fmt = W, H, "yuv420p"
    out.start_encoding()
    out.close()
    return tmp_path / "zero.mp4"


BAD = {
    "text": (lambda p: (p / "notes.mp4").write_text("hello " * 100) and p / "notes.mp4", "is not a video"),
    "image": (lambda p: cv2.imwrite(str(p / "photo.png"), background()) and p / "photo.png", "is an image"),
    "cut, index last": (lambda p: _truncated(p, False), "truncated"),
    "cut, index first": (lambda p: _truncated(p, True), "truncated"),
    "zero frames": (_zero_frames, "holds no video frames"),
}


@pytest.mark.parametrize("kind", BAD)
def test_each_bad_file_gets_one_clear_line_from_the_cli(kind, tmp_path, capsys):
    make, needle = BAD[kind]
    bad = make(tmp_path)
    with pytest.raises(VideoError, match=needle):
        probe(bad)
    cv2.imwrite(str(tmp_path / "mask.png"), np.full((H, W), 255, np.uint8))
    assert main(["inpaint-video", str(bad), str(tmp_path / "mask.png"), "-o", str(tmp_path / "o.mp4"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and err.count("\n") == 0 and err.startswith("studio: error:") and "Traceback" not in err
    assert not (tmp_path / "o.mp4").exists()


def test_a_huge_frame_is_refused_with_the_limit(tmp_path, monkeypatch):
    src = write_clip(tmp_path / "in.mp4", [background()] * 2)
    monkeypatch.setenv("STUDIO_MAX_VIDEO_PIXELS", str(W * H - 1))
    with pytest.raises(VideoError, match=f"{W}x{H}.*at most"):
        probe(src)


def test_an_output_name_we_cannot_write_fails_before_any_work(tmp_path, capsys):
    src = write_clip(tmp_path / "in.mp4", [background()] * 2)
    cv2.imwrite(str(tmp_path / "mask.png"), np.zeros((H, W), np.uint8))
    assert main(["inpaint-video", str(src), str(tmp_path / "mask.png"), "-o", str(tmp_path / "o.gif"), "--quiet"]) == 2
    assert ".mp4, .mov, .m4v or .mkv" in capsys.readouterr().err


# ---------------------------------------------------------------- the scene engine


def test_scene_engine_copies_a_still_background_back_and_does_not_flicker():
    truth, damaged, masks = moving_square()
    options = VideoInpaintOptions(grow=0)
    outs = list(telea_engine().run(iter(damaged), iter(masks), options, quiet_job(), len(damaged)))
    per_frame = [np.round(ClassicInpainter().run(f / 255.0, m) * 255).astype(np.uint8) for f, m in zip(damaged, masks)]
    holes = [m > 0 for m in masks]
    scene = np.mean([psnr(o, t, peak=255.0, where=h) for o, t, h in zip(outs, truth, holes)])
    telea = np.mean([psnr(o, t, peak=255.0, where=h) for o, t, h in zip(per_frame, truth, holes)])
    assert scene > 45 and scene > telea + 15  # the square never covers the same pixels for long
    assert flicker(outs, truth, masks) < 0.25 * flicker(per_frame, truth, masks)
    assert all(np.array_equal(o[~h], d[~h]) for o, d, h in zip(outs, damaged, holes))  # the rest untouched


def test_what_no_frame_shows_is_filled_once_and_held_across_windows():
    bg = background()
    mask = np.zeros((H, W), np.float32)
    mask[20:40, 30:60] = 1  # never moves: nothing behind it is ever seen
    frames, rng = [], np.random.default_rng(0)
    for t in range(11):  # sensor noise and something moving elsewhere: each frame alone would fill differently
        f = np.clip(bg + rng.integers(-4, 5, bg.shape), 0, 255).astype(np.uint8)
        f[2:10, 4 * t:4 * t + 8] = 255
        frames.append(f)
    job = quiet_job()
    outs = list(telea_engine().run(iter(frames), iter([mask] * 11), VideoInpaintOptions(window=4, grow=1), job, 11))
    hole = mask > 0
    assert all(np.array_equal(o[hole], outs[0][hole]) for o in outs)  # 3 windows, one fill
    assert not np.array_equal(outs[0][hole], frames[0][hole])
    assert any("carried over from the previous window" in n for n in job.notes)


def cancelled_at_frame_3(engine, options, frames, mask, tmp_path) -> list:
    """Run `engine` on a clip of `frames` with a still `mask` through command.process, cancelling
    when frame 3's progress arrives; checks Cancelled is raised and no output is left; returns
    the progress reports seen."""
    from studio.batch import Item
    from studio.video.command import process

    src = write_clip(tmp_path / "in.mp4", frames)
    cv2.imwrite(str(tmp_path / "mask.png"), np.round(mask * 255).astype(np.uint8))
    token, seen = CancelToken(), []

    def on_progress(p):
        seen.append(p)
        if p.message.startswith("frame 3"):
            token.cancel()

    with pytest.raises(Cancelled):
        process(engine, options, Item((src, tmp_path / "mask.png"), tmp_path / "out.mp4"), Job(on_progress, token))
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["in.mp4", "mask.png"]
    return seen


def test_cancel_stops_within_a_frame_and_leaves_no_output(tmp_path):
    truth, damaged, masks = moving_square(n=12)
    seen = cancelled_at_frame_3(telea_engine(), VideoInpaintOptions(window=4), damaged, masks[0], tmp_path)
    assert 0 < max(p.fraction for p in seen) < 0.5


def test_ctrl_c_in_the_cli_leaves_no_output(tmp_path, monkeypatch, model_folders):
    from studio.video import scene

    truth, damaged, masks = moving_square(n=6)
    src = write_clip(tmp_path / "in.mp4", damaged)
    cv2.imwrite(str(tmp_path / "mask.png"), np.round(masks[0] * 255).astype(np.uint8))

    def interrupted(self, frames, masks, *a, **k):
        yield next(iter(frames))
        raise KeyboardInterrupt

    monkeypatch.setattr(scene.SceneInpainter, "run", interrupted)
    assert main(["inpaint-video", str(src), str(tmp_path / "mask.png"), "-o", str(tmp_path / "o.mp4"), "--quiet"]) == 130
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["in.mp4", "mask.png"]


# ---------------------------------------------------------------- the command and masks


def test_cli_restores_a_clip_with_a_mask_video_and_keeps_its_audio(tmp_path, capsys, model_folders):
    truth, damaged, masks = moving_square(n=10)
    src = write_clip(tmp_path / "in.mp4", damaged, audio=True)
    mask_video = write_clip(tmp_path / "mask.mkv", [np.repeat(np.round(m * 255).astype(np.uint8)[..., None], 3, 2)
                                                   for m in masks[:8]], fmt="matroska")  # 2 frames short
    out = tmp_path / "out.mp4"
    assert main(["inpaint-video", str(src), str(mask_video), "-o", str(out), "--crf", "0"]) == 0
    err = capsys.readouterr().err
    assert "ends after 8 frames" in err and "Telea fills what no frame shows" in err  # no model installed here
    result = list(VideoReader(out))
    assert len(result) == 10 and probe(out).audio == "aac"
    holes = [m > 0 for m in masks[:8]]
    assert np.mean([psnr(o, t, peak=255.0, where=h) for o, t, h in zip(result, truth, holes)]) > 35


def test_a_folder_of_videos_shares_one_mask_resized_to_each(tmp_path, capsys, model_folders):
    clips = tmp_path / "clips"
    clips.mkdir()
    write_clip(clips / "a.mp4", moving_square(n=4)[1])
    write_clip(clips / "b.mkv", moving_square(n=3)[1], fmt="matroska")
    (clips / "notes.txt").write_text("not a clip")
    mask = np.zeros((H * 2, W * 2), np.uint8)
    mask[40:80, 60:120] = 255
    cv2.imwrite(str(tmp_path / "logo.png"), mask)
    assert main(["inpaint-video", str(clips), str(tmp_path / "logo.png"), "-o", str(tmp_path / "out"), "--quiet"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.mp4", "b.mkv"]
    assert len(list(VideoReader(tmp_path / "out" / "b.mkv"))) == 3
    assert "rescaled it to the video" in capsys.readouterr().err


def test_an_empty_mask_image_is_one_clear_line(tmp_path, capsys, model_folders):
    src = write_clip(tmp_path / "in.mp4", [background()] * 2)
    cv2.imwrite(str(tmp_path / "mask.png"), np.zeros((H, W), np.uint8))
    assert main(["inpaint-video", str(src), str(tmp_path / "mask.png"), "-o", str(tmp_path / "o.mp4"), "--quiet"]) == 2
    assert "mask.png is empty" in capsys.readouterr().err and not (tmp_path / "o.mp4").exists()


def test_face_engine_without_its_checkpoint_is_one_clear_line(tmp_path, capsys, model_folders):
    src = write_clip(tmp_path / "in.mp4", [background()] * 2)
    cv2.imwrite(str(tmp_path / "mask.png"), np.zeros((H, W), np.uint8))
    assert main(["inpaint-video", str(src), str(tmp_path / "mask.png"), "-o", str(tmp_path / "o.mp4"),
                 "--engine", "face", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "dcgan-faces64" in err and "Traceback" not in err
    assert not (tmp_path / "o.mp4").exists()


def test_the_output_never_replaces_an_input(tmp_path, capsys, model_folders):
    src = write_clip(tmp_path / "in.mp4", [background()] * 2)
    cv2.imwrite(str(tmp_path / "mask.png"), np.zeros((H, W), np.uint8))
    before = src.read_bytes()
    assert main(["inpaint-video", str(src), str(tmp_path / "mask.png"), "-o", str(src), "--quiet"]) == 2
    assert "so the original stays" in capsys.readouterr().err and src.read_bytes() == before


def test_a_key_frame_mask_follows_its_object(tmp_path):
    from studio.video.track import track_offsets

    bg = background(1)
    logo = np.zeros((12, 12), np.uint8)
    cv2.circle(logo, (6, 6), 5, 255, 2)
    path = [(10 + 4 * t + t // 3, 20 + 2 * np.sin(t)) for t in range(12)]
    frames, masks = [], []
    for x, y in path:
        m = np.zeros((H, W), np.float32)
        m[:12, :12] = logo / 255.0
        m = cv2.warpAffine(m, np.float32([[1, 0, x], [0, 1, y]]), (W, H))
        frames.append(np.round(bg * (1 - m[..., None]) + 250 * m[..., None]).astype(np.uint8))
        masks.append(m)
    offsets = track_offsets(iter(frames), masks[5], 5, quiet_job())
    truth = [(x - path[5][0], y - path[5][1]) for x, y in path]
    assert np.abs(np.array(offsets) - np.array(truth)).max() < 0.5
    with pytest.raises(VideoError, match="past the end"):
        track_offsets(iter(frames), masks[5], 40, quiet_job())


def test_camera_motion_is_exactly_still_or_the_shift():
    from studio.video.motion import CameraMotion, apply

    big = cv2.resize(background(2), (W * 4, H * 4), interpolation=cv2.INTER_CUBIC)
    hole = np.zeros((H * 2, W * 2), bool)
    hole[40:60, 40:80] = True
    rng = np.random.default_rng(3)
    still = CameraMotion()
    for t in range(3):  # sensor noise only
        frame = np.clip(big[:H * 2, :W * 2] + rng.integers(-2, 3, (H * 2, W * 2, 3)), 0, 255).astype(np.uint8)
        assert np.array_equal(still.step(frame, hole), np.eye(3))
    pan = CameraMotion()
    pan.step(big[20:20 + H * 2, 20:20 + W * 2], hole)
    m = pan.step(big[23:23 + H * 2, 18:18 + W * 2], hole)  # the view moved 2 px left and 3 px down
    assert np.abs(apply(m, np.array([[50.0, 50.0]])) - [[48.0, 53.0]]).max() < 0.1


def test_frames_whose_motion_is_unknown_are_filled_each_on_its_own():
    rng = np.random.default_rng(4)
    frames = [rng.integers(0, 256, (H, W, 3)).astype(np.uint8) for _ in range(4)]  # nothing in common
    mask = np.zeros((H, W), np.float32)
    mask[20:30, 20:40] = 1
    job = quiet_job()
    outs = list(telea_engine().run(iter(frames), iter([mask] * 4), VideoInpaintOptions(), job, 4))
    assert len(outs) == 4
    assert any("motion was not found between 3 pairs" in n for n in job.notes)
    assert any("from 4 photo-engine fills" in n for n in job.notes)  # one per frame, none copied
