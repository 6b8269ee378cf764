"""What the window tells a person: missing system libraries before Qt starts, errors in the
window's own words, what a job is doing and how long it has left, and previews that match."""

import ast
import threading
from pathlib import Path

import numpy as np
import pytest

from studio import cli
from studio.engines import faces
from studio.errors import StudioError
from studio.ui import gui_libraries
from studio.ui.worker import time_left
from test_ui_support import fake_engines, opened, paint_square, photo, window  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent


def wait_idle(qtbot, w):
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=10_000)


# ------------------------------------------------------------------ 1: system libraries for Qt
def loader_without(*absent):
    def load(name):
        if name in absent:
            raise OSError(f"{name}: cannot open shared object file")
    return load


def test_missing_xcb_libraries_are_named_with_their_debian_packages():
    x11 = {"DISPLAY": ":0"}
    text = gui_libraries.problem(x11, "linux", loader_without("libxcb-icccm.so.4", "libxcb-keysyms.so.1"))
    assert text == ("the GUI needs these system libraries: libxcb-icccm.so.4, libxcb-keysyms.so.1 "
                    "(Debian/Ubuntu: sudo apt install libxcb-icccm4 libxcb-keysyms1)")
    assert gui_libraries.problem(x11, "linux", loader_without()) is None
    # Only where Qt would start its xcb plugin: not offscreen/Wayland, not without a display, not on macOS.
    for env, platform in (({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, "linux"), ({}, "linux"),
                          ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux"), (x11, "darwin")):
        assert gui_libraries.problem(env, platform, loader_without("libxcb-icccm.so.4")) is None
    assert gui_libraries.problem({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, "linux",
                                 loader_without("libEGL.so.1")).endswith("sudo apt install libegl1)")


def test_the_real_loader_agrees_with_the_linker_cache():
    import ctypes.util

    # an independent witness: ldconfig's cache (find_library) against dlopen (what the app uses),
    # on whatever this machine has installed
    stem = lambda soname: soname.removeprefix("lib").split(".so")[0]  # noqa: E731
    cached = [n for n in gui_libraries.XCB_LIBRARIES if ctypes.util.find_library(stem(n)) is None]
    assert gui_libraries.missing_libraries() == cached


def test_studio_exits_2_with_one_line_instead_of_a_qt_abort(monkeypatch, capsys):
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("QT_QPA_PLATFORM")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(gui_libraries.ctypes, "CDLL", loader_without("libxcb-cursor.so.0"))
    assert cli.main([]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["studio: error: the GUI needs these system libraries: libxcb-cursor.so.0 "
                   "(Debian/Ubuntu: sudo apt install libxcb-cursor0)"]


# ------------------------------------------------------------------ 10: the window's words
def test_face_errors_name_the_windows_controls_not_cli_flags(qtbot, opened, monkeypatch):  # noqa: F811
    w = opened

    class FaceOnly:  # the face engine's real face finding, on a photo without a face
        def run(self, rgb, mask, options, job):
            faces.choose_face(rgb, mask)

    fake_engines(monkeypatch, inpaint=FaceOnly())
    paint_square(w)
    assert w.panel("inpaint").run()
    wait_idle(qtbot, w)
    _, text, _ = w.dialogs.errors[-1]
    assert "--" not in text and "face box (F)" in text and "photo engine" in text
    with pytest.raises(StudioError, match="--box x,y,w,h"):  # the CLI keeps its own words
        hole = np.zeros((64, 64), np.float32)
        hole[20:40, 20:40] = 1
        faces.choose_face(np.zeros((64, 64, 3), np.float32), hole)


def test_every_engine_message_naming_a_cli_flag_has_window_words():
    for path in [*sorted((ROOT / "studio" / "engines").glob("*.py")), ROOT / "studio" / "devices.py"]:
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "StudioError":
                text = ast.get_source_segment(source, node)
                if "--" in text or "NO_FACE" in text:
                    gui = [k for k in node.keywords if k.arg == "gui"]
                    assert gui and "--" not in ast.get_source_segment(source, gui[0].value), (path.name, text)


# ------------------------------------------------------------------ 11: progress in words, time left
def test_time_left_appears_once_the_estimate_is_steady():
    assert time_left(0.5, 1.0) == ""  # under 2 s: start-up costs still dominate
    assert time_left(0.03, 10.0) == ""  # under 5 %
    assert time_left(1.0, 10.0) == ""
    assert time_left(0.5, 6.0) == "about 6 s left"
    assert time_left(0.25, 20.0) == "about 60 s left"
    assert time_left(0.1, 33.0) == "about 5 min left"
    assert time_left(0.05, 600.0) == "about 3.2 h left"
    assert time_left(0.5, 6.0, since=0.25) == "about 12 s left"  # the rate since the first report
    assert time_left(0.28, 6.0, since=0.25) == ""


def test_status_bar_shows_the_jobs_words_and_time_left(qtbot, opened, monkeypatch):  # noqa: F811
    w = opened
    gate, seen = threading.Event(), []

    class Slow:
        def run(self, rgb, mask, options, job):
            gate.wait(10)
            return rgb

    fake_engines(monkeypatch, inpaint=Slow())
    paint_square(w)
    assert w.panel("inpaint").run()
    w._job_progress(0.0, "loading the engine")  # the clock starts at the first report
    w._job_progress(0.02, "searching for the face that fits the photo")
    seen.append(w.job_label.text())
    w._job_t0 -= 30  # as if it had run 30 s since
    w._job_progress(0.5, "searching for the face that fits the photo")
    seen.append(w.job_label.text())
    gate.set()
    wait_idle(qtbot, w)
    assert seen == ["Inpainting: searching for the face that fits the photo",
                    "Inpainting: searching for the face that fits the photo — about 30 s left"]


# ------------------------------------------------------------------ 13: previews that match the canvas
def test_a_preview_is_cleared_by_another_tools_job_and_a_result_it_does_not_belong_to(qtbot, opened,
                                                                                      monkeypatch):  # noqa: F811
    w = opened
    face64 = np.full((64, 64, 3), 0.5, np.float32)
    gate, during = threading.Event(), []

    class FaceEngine:  # shows a preview as the face engine does
        def run(self, rgb, mask, options, job):
            job.progress(0.5, "searching", face64)
            return rgb * 0.5

    class PhotoEngine:
        def run(self, rgb, mask, options, job):
            gate.wait(10)
            return rgb * 0.9

    engines = iter([FaceEngine(), PhotoEngine(), PhotoEngine()])
    fake_engines(monkeypatch, inpaint=lambda: next(engines))
    paint_square(w)
    assert w.panel("inpaint").run()
    wait_idle(qtbot, w)
    assert w.preview.shown is not None and w.preview.tool == "inpaint"
    gate.set()
    w.settings.device = "cpu"  # a new engine (the photo fill) for the next run
    paint_square(w)
    assert w.panel("inpaint").run()
    wait_idle(qtbot, w)
    assert w.preview.shown is None  # the face preview does not belong to the photo fill shown now

    # A face-panel preview stays for its own tool's result, goes when another tool's job starts.
    w.show_preview(face64, "Attribute preview (64×64)", "edit")
    w.apply_step(None, "Face attributes applied", tool="edit")
    assert w.preview.shown is not None
    gate.clear()
    w.settings.device = "auto"
    paint_square(w)
    assert w.panel("inpaint").run()
    during.append(w.preview.shown)
    gate.set()
    wait_idle(qtbot, w)
    assert during == [None]
