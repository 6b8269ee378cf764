"""Shared fixtures and stand-ins for the UI tests (no tests of its own).

Every window gets its own settings file and state folder, so no test reads or writes the
user's; engines are replaced by small numpy stand-ins unless a test builds a real tiny one.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, QSettings

from studio import model_cache
from studio.ui import dialogs
from studio.ui.main_window import MainWindow


def make_window(qtbot, tmp_path: Path, **kwargs) -> MainWindow:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    kwargs.setdefault("autosave_ms", 3_600_000)
    w = MainWindow(settings, tmp_path / "state", **kwargs)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


class Dialogs:
    """Stands in for every message box: records what would be shown, answers from a script."""

    def __init__(self, monkeypatch):
        self.errors: list[tuple[str, str, str | None]] = []
        self.questions: list[str] = []
        self.options: list[dict] = []  # the keyword options of each question, in order
        self.answers: list = []  # next answers to questions (default: no / cancel)
        monkeypatch.setattr(dialogs, "show_error", self._error)
        monkeypatch.setattr(dialogs, "ask_yes_no", self._yes_no)
        monkeypatch.setattr(dialogs, "ask_save_changes", self._save_changes)

    def _error(self, parent, title, text, details=None):
        self.errors.append((title, text, details))

    def _yes_no(self, parent, title, text, **options):
        self.questions.append(text)
        self.options.append(options)
        return self.answers.pop(0) if self.answers else False

    def _save_changes(self, parent, name, **options):
        self.questions.append(f"save changes to {name}")
        self.options.append(options)
        return self.answers.pop(0) if self.answers else dialogs.CANCEL


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    answering = Dialogs(monkeypatch)  # a real modal box would wait forever offscreen
    w = make_window(qtbot, tmp_path)
    w.dialogs = answering
    yield w
    w.ask_before_closing = False  # teardown closes it: never wait on a question
    w.shutdown()


def write_photo(path: Path, w: int = 64, h: int = 48, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 // max(1, w - 1), yy * 255 // max(1, h - 1), np.full_like(xx, 128)], -1)
    img = np.clip(img + rng.integers(-10, 10, img.shape), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(path)
    return path


@pytest.fixture
def photo(tmp_path) -> Path:
    return write_photo(tmp_path / "photo.png")


@pytest.fixture
def opened(window, photo):
    assert window.files.open_path(photo)
    return window


def view_point(canvas, x: float, y: float):
    """Image pixel -> a point on the canvas viewport."""
    return canvas.mapFromScene(QPointF(x, y))


class FakeInpainter:
    """Fills the hole with flat green, reporting progress (with a 64x64 preview) as it goes;
    records the options of each run."""

    def __init__(self, steps: int = 4, delay: float = 0.0):
        self.steps, self.delay, self.calls = steps, delay, 0
        self.options = []

    def run(self, rgb, mask, options, job):
        self.calls += 1
        self.options.append(options)
        job.note("fake engine")
        for i in range(self.steps):
            job.progress(i / self.steps, f"step {i}", np.full((64, 64, 3), i / self.steps, np.float32))
            if self.delay:
                time.sleep(self.delay)
        out = rgb.copy()
        out[mask > 0.5] = (0.0, 1.0, 0.0)
        return out


def fake_engines(monkeypatch, **engines):
    """Make the model cache build these stand-ins (tool name -> engine, or a callable making
    one) instead of loading models; returns the list of (tool, model, device) builds."""
    current = model_cache.build_engine
    if hasattr(current, "engines"):  # a second fixture adds its stand-ins to the first's
        current.engines.update(engines)
        return current.built
    built = []

    def build(tool, model, device):
        built.append((tool, model, device))
        engine = build.engines[tool]
        return engine() if callable(engine) and not hasattr(engine, "run") else engine

    build.engines, build.built = dict(engines), built
    monkeypatch.setattr(model_cache, "build_engine", build)
    return built


def install_editor(monkeypatch, editor):
    """A stand-in face editor for the Edit tool, which then counts as installed."""
    from studio import catalogue

    monkeypatch.setattr(catalogue, "unavailable", lambda tool, model=None: None)
    fake_engines(monkeypatch, edit=editor)
    return editor


@pytest.fixture
def fake_inpainter(monkeypatch):
    engine = FakeInpainter()
    engine.built = fake_engines(monkeypatch, inpaint=engine)
    return engine


def paint_square(window, x0=10, y0=10, x1=30, y1=20):
    """Paint the mask directly (not through the mouse) as one undoable step."""
    m = window.document.mask.copy()
    m[y0:y1, x0:x1] = 255
    window.document.set_mask(m, "test mask")
    window.update_actions()
