"""A tool is one engine plus one catalogue entry: a "blur the masked area" tool added here, and
nowhere else, is a CLI command with its option, and a GUI panel whose job can be undone."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pytest
from PIL import Image

from studio import catalogue
from studio import options as opt
from studio.cli import main
from studio.engines.masks import composite
from test_ui_support import make_window, paint_square, photo, window  # noqa: F401


@dataclass(frozen=True)
class BlurOptions:
    radius: int = opt.number(3, "blur radius in pixels", lo=1, hi=50)

    def __post_init__(self):
        opt.validate(self)


class BlurMasked:
    """Gaussian blur inside the mask; the engine shape: built from (model, device), run per image."""

    def __init__(self, model, device):
        self.model, self.device = model, device

    def run(self, rgb, mask, options, job):
        job.progress(0.5, "blurring")
        blurred = cv2.GaussianBlur(rgb, (0, 0), options.radius)
        return composite(rgb, blurred, mask)


BLUR = catalogue.Tool("blur", "Blur", "Blur masked area", "blur the masked area", f"{__name__}:BlurMasked",
                      BlurOptions, mask=True)


@pytest.fixture
def blur_tool(monkeypatch):
    monkeypatch.setattr(catalogue, "TOOLS", [*catalogue.TOOLS, BLUR])
    return BLUR


def _files(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    m = np.zeros((40, 48), np.uint8)
    m[10:30, 12:36] = 255
    Image.fromarray(m).save(tmp_path / "m.png")
    return tmp_path / "a.png", tmp_path / "m.png"


def test_the_cli_offers_and_runs_a_tool_added_to_the_catalogue(blur_tool, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "blur the masked area" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["blur", "--help"])
    assert "--radius" in capsys.readouterr().out
    img, mask = _files(tmp_path)
    out = tmp_path / "out.png"
    assert main(["blur", str(img), str(mask), "-o", str(out), "--radius", "4", "--quiet"]) == 0
    before, after = np.asarray(Image.open(img)), np.asarray(Image.open(out))
    assert np.array_equal(after[:10], before[:10])  # outside the mask: untouched
    assert after[15:25, 18:30].std() < before[15:25, 18:30].std() / 2  # inside: blurred
    with pytest.raises(SystemExit) as exc:  # the option's bounds are the CLI's
        main(["blur", str(img), str(mask), "-o", str(out), "--radius", "99"])
    assert exc.value.code == 2 and "--radius wants a whole number from 1 to 50" in capsys.readouterr().err


def test_the_window_gets_a_panel_that_runs_the_tool_as_an_undoable_job(blur_tool, qtbot, tmp_path, photo):  # noqa: F811
    w = make_window(qtbot, tmp_path)
    try:
        panel = w.panel("blur")
        assert w.tabs.tabText(w.tabs.indexOf(panel)) == "Blur"
        radius = panel.form.controls["radius"]
        assert (radius.minimum(), radius.maximum(), radius.value()) == (1, 50, 3)
        assert w.files.open_path(photo)
        paint_square(w)
        before = w.document.picture.rgb.copy()
        radius.setValue(5)
        assert w.run_tool("blur")
        qtbot.waitUntil(lambda: not w.runner.busy, timeout=10_000)
        after = w.document.picture.rgb
        assert not np.array_equal(after[10:20, 10:30], before[10:20, 10:30])
        assert np.array_equal(after[30:], before[30:])
        assert w.document.history.next_undo().label.startswith("Blur masked area")
        assert "Blur" in w.statusBar().currentMessage()
        w.undo()
        assert np.array_equal(w.document.picture.rgb, before) and w.document.mask[12, 15] == 255
        assert w.cache.loaded() == [("blur", None, "auto")]
    finally:
        w.ask_before_closing = False
        w.shutdown()
