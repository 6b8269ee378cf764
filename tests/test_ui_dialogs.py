"""Settings (device, models folder, default engine) and the Models dialog."""

import json
import os

import pytest

from studio.ui import dialogs
from studio.ui.models_dialog import ModelsDialog
from studio.ui.settings import SettingsDialog
from test_ui_support import window  # noqa: F401


@pytest.fixture
def card_dir(tmp_path, monkeypatch):
    folder = tmp_path / "bundled"
    folder.mkdir()
    (folder / "srgan.safetensors").write_bytes(b"x")
    (folder / "srgan.json").write_text(json.dumps({"architecture": "srresnet", "sha256": "0", "metrics": {"psnr": 27.1}}))
    (folder / "old.pt").write_bytes(b"x")
    monkeypatch.setenv("STUDIO_BUNDLED_CHECKPOINTS", str(folder))
    return folder


def test_models_dialog_describes_each_card_in_words_raw_card_behind_details(qtbot, card_dir):
    card = {"architecture": "srresnet", "sha256": "0", "title": "Photo SRGAN 4x", "task": "4x super-resolution",
            "training_data": "BSDS500 photos", "license": "research use only", "size_bytes": 6_100_000,
            "metrics": {"center32_psnr_hole_db": 27.1}, "validation": {"ssim": 0.8123, "set": "held out"}}
    (card_dir / "srgan.json").write_text(json.dumps(card))
    d = ModelsDialog()
    qtbot.addWidget(d)
    assert d.list.count() == 2 and d.list.item(0).text() == "srgan  —  4x super-resolution"
    text = d.card.toPlainText()
    for seen in ("Photo SRGAN 4x", "4x super-resolution", "6.1 MB", "BSDS500 photos", "research use only",
                 "Center32 PSNR hole (dB)", "27.1", "SSIM", "0.8123"):
        assert seen in text, seen
    assert "{" not in text and "center32_psnr" not in text  # no raw JSON in the description
    assert d.raw.isHidden() and '"center32_psnr_hole_db": 27.1' in d.raw.toPlainText()
    d.details.click()
    assert not d.raw.isHidden()
    d.list.setCurrentRow(1)
    assert "pickle" in d.card.toPlainText()


def test_settings_dialog_sets_device_models_folder_and_engine(qtbot, window, tmp_path, monkeypatch, card_dir):  # noqa: F811
    monkeypatch.setenv("STUDIO_MODELS_DIR", str(tmp_path / "before"))  # restored after the test
    monkeypatch.setattr(window, "warm_up", lambda: None)  # no torch here
    models = tmp_path / "my-models"
    d = SettingsDialog(window.settings, window)
    qtbot.addWidget(d)
    d.device.setCurrentIndex(1)
    d.models_dir.setText(str(models))
    d.engine.setCurrentText("classic")
    d.save()
    window.settings_changed()
    assert window.settings.device == "cpu" and window.settings.inpaint_engine == "classic"
    assert os.environ["STUDIO_MODELS_DIR"] == str(models)
    assert window.device_label.text() == "Device: cpu"
    window.panel("inpaint").form.controls["detail"].setValue(30)  # panel options are remembered as they change
    window.panel("upscale").form.controls["tile"].setValue(64)
    # Stored: a new window starts with them.
    window.settings.store.sync()
    from test_ui_support import make_window

    w2 = make_window(qtbot, tmp_path)
    assert w2.settings.device == "cpu" and w2.panel("inpaint").form.controls["engine"].currentText() == "classic"
    assert w2.panel("inpaint").form.value("detail") == 0.3 and w2.panel("upscale").options().tile == 64
    w2.shutdown()


def test_show_exception_words(monkeypatch):
    shown = []
    monkeypatch.setattr(dialogs, "show_error", lambda p, t, text, details=None: shown.append((text, details)))
    from studio.errors import StudioError

    dialogs.show_exception(None, "x", StudioError("the mask is empty"))
    dialogs.show_exception(None, "x", KeyError("k"), "Traceback...")
    assert shown[0] == ("the mask is empty", None)
    assert "KeyError" in shown[1][0] and shown[1][1] == "Traceback..."
