"""The Video tab: open a clip, scrub, paint the mask, run, play, compare, undo, cancel, save."""

from __future__ import annotations

import time

import numpy as np
import pytest
from test_ui_support import fake_engines, paint_square, window  # noqa: F401 - fixtures
from test_video import background, write_clip

from studio.video.frames import FrameSource
from studio.video.io import VideoReader, probe

N = 12
GREEN = np.array([0, 255, 0])


class FakeVideoEngine:
    """Paints the hole green frame by frame, with a progress report (and preview) per frame."""

    def __init__(self, delay: float = 0.0):
        self.delay, self.options = delay, []

    def check(self, options) -> None:
        pass

    def run(self, frames, masks, options, job, total=None):
        self.options.append(options)
        for i, (rgb, m) in enumerate(zip(frames, masks)):
            if self.delay:
                time.sleep(self.delay)
            out = rgb.copy()
            out[m > 0.5] = GREEN
            job.progress((i + 1) / (total or N), f"frame {i + 1}", out.astype(np.float32) / 255)
            yield out


def clip_frames() -> list[np.ndarray]:
    """Frames that differ (a bright bar moving right), so showing the wrong one is seen."""
    base = background()
    frames = []
    for i in range(N):
        f = base.copy()
        f[:, 4 + i * 6:8 + i * 6] = 255
        frames.append(f)
    return frames


@pytest.fixture
def clip(tmp_path):
    return write_clip(tmp_path / "clip.mp4", clip_frames(), audio=True)


def shown(w) -> np.ndarray:
    return np.rint(w.document.picture.rgb * 255).astype(np.int16)


def close_to(a, b, tol=4) -> bool:
    return np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).mean() < tol


def run_video(qtbot, w, engine) -> None:
    fake_engines(w.monkeypatch, **{"inpaint-video": engine})
    assert w.video.run()
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=20_000)


@pytest.fixture
def opened_clip(window, clip, monkeypatch):  # noqa: F811
    window.monkeypatch = monkeypatch
    assert window.files.open_path(clip)
    return window


def test_frame_source_gives_frame_i_in_any_order(clip):
    frames = list(VideoReader(clip))
    source = FrameSource(clip)
    assert len(source) == N
    for i in (7, 2, 3, 4, 11, 0, 6):
        assert np.array_equal(source.frame(i), frames[i])
    source.close()


def test_open_scrub_paint_run_play_compare_undo_save(qtbot, opened_clip, clip, tmp_path):
    w, video = opened_clip, opened_clip.video
    truth = list(VideoReader(clip))
    assert video.active and video.bar.isVisible() and video.bar.count == N
    assert close_to(shown(w), truth[0])
    video.bar.set_frame(5)
    assert close_to(shown(w), truth[5]) and not close_to(shown(w), truth[4])
    assert "Frame 6 / 12" in video.bar.label.text()

    paint_square(w, 30, 20, 50, 40)
    engine = FakeVideoEngine()
    run_video(qtbot, w, engine)
    assert [s.label for s in w.document.history.steps] == ["test mask", "Restore video"]
    assert not w.document.has_mask()  # the result step clears the mask it used, as the image tools do
    assert engine.options[0].crf == 0  # the working copy is lossless; Save As encodes once
    assert close_to(shown(w)[25, 35], GREEN, 8)  # the result of frame 6 is on screen
    assert close_to(shown(w)[:, 60:], truth[5][:, 60:])
    assert w.preview.tool == "inpaint-video"  # the last frame's preview stays

    video.bar.set_frame(0)
    video.bar.play(True)
    assert video.bar.playing
    qtbot.waitUntil(lambda: not video.bar.playing, timeout=10_000)
    assert video.bar.index == N - 1
    assert close_to(shown(w)[25, 35], GREEN, 8) and close_to(shown(w)[:, 80:], truth[N - 1][:, 80:])

    w.toggle_compare(True)
    assert w.canvas.compare and w.canvas.compare_label == "Original"
    before, _ = video.before_frame()
    assert close_to(before, truth[N - 1]) and not close_to(before[25, 35], GREEN, 8)
    video.bar.set_frame(3)  # scrubbing keeps comparing, against the new frame's original
    assert w.canvas.compare and close_to(video.before_frame()[0], truth[3])
    w.toggle_compare(False)

    w.undo()
    assert video.result is None and close_to(shown(w), truth[3]) and w.document.has_mask()
    w.undo()
    assert not w.document.has_mask()
    w.redo()
    w.redo()
    assert video.result is not None and close_to(shown(w)[25, 35], GREEN, 8)

    out = tmp_path / "out.mp4"
    w.files.ask_save_path = lambda *a: out
    assert w.files.save_as()
    info = probe(out)
    assert info.audio == "aac" and info.fps == probe(clip).fps
    saved = list(VideoReader(out))
    assert len(saved) == N and close_to(saved[7][25, 35], GREEN, 8) and close_to(saved[7][:, 60:], truth[7][:, 60:], 6)
    assert not w.document.dirty


def test_cancel_leaves_no_result_and_no_file(qtbot, opened_clip):
    w, video = opened_clip, opened_clip.video
    paint_square(w, 30, 20, 50, 40)
    fake_engines(w.monkeypatch, **{"inpaint-video": FakeVideoEngine(delay=0.3)})
    assert video.run()
    qtbot.waitUntil(lambda: w.job_bar.value() > 0, timeout=10_000)
    w.cancel_job()
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=10_000)
    assert [s.label for s in w.document.history.steps] == ["test mask"] and video.result is None
    assert not list(video._workdir.glob("*.mp4")) and not list(video._workdir.glob("*.tmp*"))
    assert "cancelled" in w.statusBar().currentMessage()


def test_run_needs_a_mask_and_save_needs_a_result(opened_clip, tmp_path):
    w, video = opened_clip, opened_clip.video
    assert not video.run() and "Paint" in w.statusBar().currentMessage()
    w.files.ask_save_path = lambda *a: tmp_path / "never.mp4"
    assert not w.files.save_as() and not (tmp_path / "never.mp4").exists()
    # The image tools do not apply to a video; the video tool does.
    assert w.tool_actions["inpaint-video"].isEnabled() and not w.tool_actions["inpaint"].isEnabled()


def test_a_file_that_is_not_a_video_gets_one_message(window, tmp_path):  # noqa: F811
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    assert not window.files.open_path(bad)
    assert window.document is None and len(window.dialogs.errors) == 1
    assert "not a video" in window.dialogs.errors[0][1]


def test_opening_another_video_or_an_image_closes_the_video(opened_clip, tmp_path):
    from test_ui_support import write_photo

    w, video = opened_clip, opened_clip.video
    workdir = video._workdir
    other = write_clip(tmp_path / "other.mp4", clip_frames()[:5])
    assert w.files.open_path(other)
    assert video.active and video.bar.count == 5 and not workdir.exists()
    workdir = video._workdir
    assert w.files.open_path(write_photo(tmp_path / "p.png"))
    assert not video.active and not video.bar.isVisible() and not workdir.exists()
    assert w.tool_actions["inpaint"].isEnabled()


def test_an_unsaved_result_is_asked_about_and_closing_removes_the_working_copies(qtbot, opened_clip):
    w, video = opened_clip, opened_clip.video
    paint_square(w, 30, 20, 50, 40)
    assert w.files.maybe_save_changes() and not w.dialogs.questions  # a mask alone on a video: nothing to lose
    run_video(qtbot, w, FakeVideoEngine())
    assert not w.files.maybe_save_changes()  # the default answer: cancel
    assert w.dialogs.questions == ["save changes to clip.mp4"]
    workdir = video._workdir
    assert list(workdir.glob("result-*.mp4"))
    w.shutdown()
    assert not workdir.exists()
