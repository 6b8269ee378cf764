"""Tools run as background jobs: progress, previews, cancel, errors, refusal, UI responsiveness."""

import time

import pytest

import numpy as np
from PySide6.QtCore import QElapsedTimer, QTimer

from studio.errors import StudioError
from test_ui_support import (fake_engines, fake_inpainter, opened, paint_square, photo,  # noqa: F401
                             window)


def wait_idle(qtbot, w, timeout=10_000):
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=timeout)


def test_inpaint_runs_in_the_background_and_is_one_undoable_step(qtbot, opened, fake_inpainter):  # noqa: F811
    w = opened
    paint_square(w)
    before = w.document.picture.rgb.copy()
    panel = w.panel("inpaint")
    c = panel.form.controls
    from studio.catalogue import DETAIL_STRENGTH as STRENGTH

    assert c["detail"].value() == round(STRENGTH * 100)  # the photo engine's default texture strength
    c["detail"].setValue(60)
    c["engine"].setCurrentText("photo")
    assert c["detail"].isEnabled() and not c["steps"].isEnabled()
    assert panel.options().detail == pytest.approx(0.6) and panel.options().steps is None
    c["steps"].setValue(300)
    c["engine"].setCurrentText("face")
    assert c["steps"].isEnabled() and not c["detail"].isEnabled()
    assert panel.options().detail == STRENGTH and panel.options().steps == 300  # greyed out: the default
    c["engine"].setCurrentText("auto")
    assert c["steps"].isEnabled() and c["detail"].isEnabled()
    c["engine"].setCurrentText("classic")  # reads neither: both greyed out
    assert not c["steps"].isEnabled() and not c["detail"].isEnabled()
    c["seed"].setValue(7)
    assert w.panel("inpaint").run()
    assert w.job_bar.isVisible() and w.cancel_button.isVisible()
    wait_idle(qtbot, w)
    rgb = w.document.picture.rgb
    assert np.allclose(rgb[12, 15], (0, 1, 0)) and np.array_equal(rgb[30, 40], before[30, 40])
    assert fake_inpainter.built == [("inpaint", None, "auto")]
    opts = fake_inpainter.options[-1]
    assert opts.engine == "classic" and opts.seed == 7 and opts.steps is None and opts.detail == STRENGTH
    assert w.preview.shown is not None  # the engine's preview reached the preview widget
    assert "fake" in w.statusBar().currentMessage()
    assert w.document.dirty and not w.job_bar.isVisible()
    # The canvas shows the result: display pixels are green (B, G, R order).
    assert tuple(w.canvas.image_item.buffer[12, 15, :3]) == (0, 255, 0)
    step = w.document.history.next_undo()
    assert step.label.startswith("Inpaint") and step.patches[0].rect == (10, 10, 20, 10)
    assert not w.document.mask.any()  # the filled mask is cleared with the same step
    w.undo()
    assert np.array_equal(w.document.picture.rgb, before) and not w.document.image_dirty  # the mask is back
    assert w.document.mask[12, 15] == 255 and w.canvas.mask_item.buffer[12, 15, 3] > 0
    w.redo()
    assert np.allclose(w.document.picture.rgb[12, 15], (0, 1, 0))
    # The engine is built once and reused: other options (seed, steps, detail, engine) load nothing.
    for control, value in (("seed", 8), ("steps", 400), ("detail", 20), ("engine", "photo")):
        paint_square(w)
        form = panel.form
        form.set_value(control, value / 100 if control == "detail" else value)
        assert w.panel("inpaint").run()
        wait_idle(qtbot, w)
    assert fake_inpainter.built == [("inpaint", None, "auto")] and fake_inpainter.calls == 5
    last = fake_inpainter.options[-1]
    assert (last.seed, last.detail, last.engine) == (8, pytest.approx(0.2), "photo")
    assert w.cache.loads == 1 and w.cache.loaded() == [("inpaint", None, "auto")]


def test_inpaint_needs_a_mask(opened, fake_inpainter):  # noqa: F811
    assert not opened.panel("inpaint").run()
    assert "Paint the area" in opened.statusBar().currentMessage()


def test_cancel_stops_the_job_and_leaves_the_image(qtbot, opened, fake_inpainter):  # noqa: F811
    w = opened
    fake_inpainter.steps, fake_inpainter.delay = 200, 0.02
    paint_square(w)
    before = w.document.picture.rgb.copy()
    assert w.panel("inpaint").run()
    qtbot.waitUntil(lambda: w.job_bar.value() > 0, timeout=5000)
    w.act_cancel.trigger()  # Esc
    wait_idle(qtbot, w)
    assert "cancelled" in w.statusBar().currentMessage()
    assert np.array_equal(w.document.picture.rgb, before)
    assert not any(s.label.startswith("Inpaint") for s in w.document.history.steps)


def test_a_second_job_is_refused_while_one_runs(qtbot, opened, fake_inpainter):  # noqa: F811
    w = opened
    fake_inpainter.steps, fake_inpainter.delay = 20, 0.02
    paint_square(w)
    assert w.panel("inpaint").run()
    assert not w.panel("inpaint").run()
    assert "Busy" in w.statusBar().currentMessage() and "not started" in w.statusBar().currentMessage()
    # Image steps cannot be undone under a running job; the mask can still be edited.
    w.masks.invert_mask()
    w.undo()
    assert not w.document.mask[0, 0]
    wait_idle(qtbot, w)
    assert fake_inpainter.calls == 1


def test_engine_errors_show_a_dialog_and_the_app_goes_on(qtbot, opened, monkeypatch):  # noqa: F811
    w = opened
    shown = w.dialogs.errors

    class Broken:
        def run(self, rgb, mask, options, job):
            raise StudioError("no face found that holds the mask")

    class Buggy:
        def run(self, rgb, mask, options, job):
            raise ZeroDivisionError("oops")

    engines = iter([Broken(), Buggy()])
    fake_engines(monkeypatch, inpaint=lambda: next(engines))
    paint_square(w)
    w.panel("inpaint").run()
    wait_idle(qtbot, w)
    assert shown[-1][1:] == ("no face found that holds the mask", None)
    w.settings.device = "cpu"  # another device: builds the next engine
    w.panel("inpaint").run()
    wait_idle(qtbot, w)
    _, text, details = shown[-1]
    assert "ZeroDivisionError" in text and "Traceback" in details
    assert not w.document.image_dirty and w.isVisible()  # the painted mask stays


class GapTimer(QTimer):
    """Fires every 10 ms on the UI thread and records the ms between firings: a blocked UI
    thread shows as one long gap."""

    def __init__(self):
        super().__init__()
        self.gaps: list[int] = []
        self.clock = QElapsedTimer()
        self.clock.start()
        self.last = self.clock.elapsed()
        self.setInterval(10)
        self.timeout.connect(self._tick)
        self.start()

    def _tick(self) -> None:
        now = self.clock.elapsed()
        self.gaps.append(now - self.last)
        self.last = now


def test_the_ui_thread_never_stalls_while_a_job_runs(qtbot, opened, monkeypatch):  # noqa: F811
    """A CPU-bound job (numpy work that releases the GIL, as torch does) reporting progress and
    previews as fast as it can must not hold the UI thread for more than 50 ms."""
    w = opened

    class Busy:
        def run(self, rgb, mask, options, job):
            a = np.random.default_rng(0).random((160, 160))
            end = time.monotonic() + 1.0
            i = 0
            while time.monotonic() < end:
                a = np.tanh(a @ a.T / 160.0)  # BLAS and ufuncs release the GIL
                i += 1
                job.progress(min(0.99, i / 1e4), f"iteration {i}", np.full((64, 64, 3), 0.5, np.float32))
            out = rgb.copy()
            out[mask > 0.5] = 0.5
            return out

    fake_engines(monkeypatch, inpaint=Busy())
    paint_square(w)
    timer = GapTimer()
    gaps = timer.gaps
    assert w.panel("inpaint").run()
    wait_idle(qtbot, w)
    qtbot.wait(50)
    timer.stop()
    assert len(gaps) > 50
    assert max(gaps[1:]) < 50, f"UI stalled {max(gaps)} ms"
    assert w.document.dirty


def test_opening_and_saving_a_large_image_keep_the_ui_thread_painting(qtbot, window, tmp_path):  # noqa: F811
    """Decoding and encoding run off the UI thread (a 15 MP PNG takes seconds to write); the
    calls still return their result synchronously."""
    from PIL import Image

    w = window
    rng = np.random.default_rng(1)
    big = tmp_path / "big.png"
    Image.fromarray(rng.integers(0, 256, (1600, 2400, 3), dtype=np.uint8)).save(big, compress_level=1)
    timer = GapTimer()
    gaps = timer.gaps
    opened_at = len(gaps)
    assert w.files.open_path(big) and w.document.size == (2400, 1600)
    during_open = gaps[opened_at:]
    out = tmp_path / "copy.png"
    w.files.ask_save_path = lambda *a: out
    saved_at = len(gaps)
    assert w.files.export() and out.is_file()
    during_save = gaps[saved_at:]
    timer.stop()
    # Encoding random pixels takes well over 100 ms, so a blocking write would show as one gap.
    assert len(during_save) > 5, "the timer never ran while saving: the UI thread was blocked"
    assert max(during_save[1:]) < 100, f"UI stalled {max(during_save)} ms while saving"
    assert len(during_open) > 1


def test_latest_request_wins_in_the_runner(qtbot):
    """Requests under one `latest` key: one runs, only the newest waits, older waiting ones are
    dropped unrun; a user job with the key waits instead of being refused."""
    from threading import Event

    from studio.ui.worker import JobRunner

    runner = JobRunner()
    release, ran, results = Event(), [], []

    def task(n):
        def fn(job):
            if n == 0:
                release.wait(5)
            ran.append(n)
            return n
        return fn

    for n in range(5):
        assert runner.start("preview", task(n), results.append, background=True, latest="preview")
    assert runner.pending("preview")
    release.set()
    qtbot.waitUntil(lambda: not runner.pending("preview"), timeout=5000)
    assert ran == [0, 4] and results == [0, 4]
    release.clear()
    assert runner.start("render", task(0), results.append, latest="render")
    assert runner.start("render", task(7), results.append, latest="render")  # waits, not refused
    assert not runner.start("other", task(8), results.append)  # another user job is refused
    runner.drop_waiting("render")
    release.set()
    qtbot.waitUntil(lambda: not runner.pending("render"), timeout=5000)
    assert results[-1] == 0 and 7 not in ran
    runner.shutdown()
