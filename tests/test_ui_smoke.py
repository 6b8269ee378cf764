"""The window starts fast without torch, opens images and reports bad ones without crashing."""

import subprocess
import sys

import numpy as np
from PIL import Image

from test_ui_support import window  # noqa: F401 - fixture


def test_the_window_shows_and_opens_an_image_without_torch(tmp_path):
    """torch loads only after the window is up (on the worker), so start-up stays fast."""
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(tmp_path / "a.png")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from PySide6.QtCore import QSettings\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from studio.ui.main_window import MainWindow\n"
        f"w = MainWindow(QSettings(r'{tmp_path / 's.ini'}', QSettings.Format.IniFormat), Path(r'{tmp_path}'))\n"
        "w.show(); app.processEvents()\n"
        f"assert w.files.open_path(Path(r'{tmp_path / 'a.png'}'))\n"
        "app.processEvents()\n"
        "print('torch' in sys.modules)\n"
        "w.ask_before_closing = False; w.close()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_window_opens_an_image_and_refuses_a_bad_one(window, tmp_path, monkeypatch):  # noqa: F811
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(good)
    assert window.files.open_path(good)
    assert window.document.size == (40, 30) and "good.png" in window.windowTitle()
    assert "40×30" in window.size_label.text() and window.zoom_label.text().endswith("%")

    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    assert not window.files.open_path(bad)
    shown = [text for _, text, _ in window.dialogs.errors]
    assert shown and "bad.png" in shown[0]
    assert window.document.size == (40, 30)  # the open image is kept
