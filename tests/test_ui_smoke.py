"""The window opens images and reports bad ones without crashing (offscreen Qt)."""

import numpy as np
from PIL import Image

from studio.ui import main_window
from studio.ui.main_window import MainWindow


def test_window_opens_an_image_and_refuses_a_bad_one(qtbot, tmp_path, monkeypatch):
    w = MainWindow()
    qtbot.addWidget(w)
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(good)
    assert w.open_path(good)
    assert w.picture.size == (40, 30) and "good.png" in w.windowTitle()

    shown = []
    monkeypatch.setattr(main_window.QMessageBox, "warning", lambda *a: shown.append(a[2]))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    assert not w.open_path(bad)
    assert shown and "bad.png" in shown[0]
    assert w.picture.size == (40, 30)  # the open image is kept
