"""Upscale with a real tiny checkpoint, face attributes with a stand-in editor, the compare view."""

import numpy as np
import pytest

from test_ui_support import fake_inpainter, install_editor, opened, paint_square, photo, window  # noqa: F401


def wait_idle(qtbot, w, timeout=30_000):
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=timeout)


@pytest.fixture
def tiny_srgan(tmp_path, monkeypatch):
    """A real SRResNet checkpoint (1 block, 8 channels) where the app looks for bundled models."""
    import torch

    from studio.checkpoints import save_checkpoint
    from studio.nets.srresnet import SRResNet

    torch.manual_seed(0)
    net = SRResNet(blocks=1, channels=8)
    folder = tmp_path / "checkpoints"
    save_checkpoint(net, folder / "srgan", architecture="srresnet", config=dict(blocks=1, channels=8, head_kernel=3),
                    card={"task": "upscale", "licence": "test"}, dtype=torch.float32)
    monkeypatch.setenv("STUDIO_BUNDLED_CHECKPOINTS", str(folder))
    return folder


def test_upscale_panel_is_disabled_without_a_model(window, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("STUDIO_BUNDLED_CHECKPOINTS", str(tmp_path / "empty"))
    window.panel("upscale").refresh()
    assert not window.panel("upscale").run_button.isEnabled()
    assert "No upscale model is installed" in window.panel("upscale").missing.text()


def test_upscale_with_a_real_tiny_checkpoint_is_one_undoable_step(qtbot, tiny_srgan, opened):  # noqa: F811
    w = opened
    w.panel("upscale").refresh()
    assert w.panel("upscale").model.currentText() == "srgan" and w.panel("upscale").run_button.isEnabled()
    assert "64×48 → 256×192" in w.panel("upscale").size_label.text()
    paint_square(w)
    w.panel("upscale").form.controls["tile"].setValue(32)
    w.canvas.set_zoom(2.0)
    before = w.document.picture.rgb.copy()
    assert w.panel("upscale").run()
    wait_idle(qtbot, w, 60_000)
    assert not w.dialogs.errors, w.dialogs.errors
    doc = w.document
    assert doc.size == (256, 192) and doc.mask.shape == (192, 256)
    assert doc.mask[13 * 4, 15 * 4] == 255  # the mask is scaled along
    assert "256×192" in w.size_label.text() and w.canvas.image_item.buffer.shape[:2] == (192, 256)
    assert abs(w.canvas.zoom - 0.5) < 1e-6  # same size on screen as before
    w.undo()
    assert w.document.size == (64, 48) and np.array_equal(w.document.picture.rgb, before)
    w.redo()
    assert w.document.size == (256, 192)


def test_a_2x_community_model_is_sized_and_run_at_its_own_scale(qtbot, tiny_srgan, opened):  # noqa: F811
    import importlib.util

    if importlib.util.find_spec("spandrel") is None:
        pytest.skip("spandrel is not installed")
    import torch
    from safetensors.torch import save_file

    from studio import community

    arch = community.import_spandrel().architectures
    torch.manual_seed(0)
    net = arch.Compact.Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=2)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tiny_srgan / "2x-compact.safetensors"))
    w = opened
    panel = w.panel("upscale")
    panel.refresh()
    assert "64×48 → 256×192" in panel.size_label.text()  # the 4x srgan first
    panel.model.setCurrentText("2x-compact")
    assert "64×48 → 128×96" in panel.size_label.text()
    assert panel.run()
    wait_idle(qtbot, w, 60_000)
    assert not w.dialogs.errors, w.dialogs.errors
    assert w.document.size == (128, 96) and "128×96" in w.statusBar().currentMessage()


def test_upscale_refuses_results_over_the_pixel_limit(opened, tiny_srgan, monkeypatch):  # noqa: F811
    monkeypatch.setenv("STUDIO_MAX_PIXELS", "10000")
    opened.panel("upscale").refresh()
    assert not opened.panel("upscale").run()
    assert "limit" in opened.statusBar().currentMessage()


class FakeSession:
    def __init__(self, rgb, box):
        self.rgb, self.box = rgb, box
        self.values = {"Smiling": -0.5, "Eyeglasses": 0.2513}  # between two slider steps
        self.previews, self.transfers = [], []

    def preview(self, values, transfer=None):
        self.previews.append(dict(values))
        self.transfers.append(transfer)
        return np.full((64, 64, 3), (values["Smiling"] + 2) / 4, np.float32)

    def render(self, values, job=None, transfer=None):
        self.transfers.append(transfer)
        if job:
            job.progress(0.5, "rendering")
        out = self.rgb.copy()
        x, y, w, h = self.box
        out[y:y + h, x:x + w, 0] = (values["Smiling"] + 2) / 4
        return out


class FakeEditor:
    attributes = ["Smiling", "Eyeglasses"]

    def __init__(self, box=None):
        self.sessions = []

    def encode(self, rgb, job=None, options=None):
        job.progress(0.5, "encoding", np.zeros((64, 64, 3), np.float32))
        s = FakeSession(rgb, options.box or (8, 8, 24, 24))
        self.sessions.append(s)
        return s


@pytest.fixture
def fake_editor(monkeypatch):
    return install_editor(monkeypatch, FakeEditor())


def test_face_panel_says_plainly_when_no_model_is_installed(window, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("STUDIO_BUNDLED_CHECKPOINTS", str(tmp_path / "no-models"))  # no shipped icgan either
    panel = window.panel("edit")
    panel.refresh()
    assert panel.unavailable and not panel.find_button.isEnabled()
    assert panel.message.text() == panel.unavailable


def test_face_sliders_preview_render_and_reset(qtbot, opened, fake_editor, fake_inpainter):  # noqa: F811
    w, panel = opened, opened.panel("edit")
    panel.refresh()
    assert panel.find_button.isEnabled()
    original = w.document.picture.rgb.copy()
    assert panel.find_face()
    wait_idle(qtbot, w)
    assert set(panel.sliders) == {"Smiling", "Eyeglasses"}
    assert panel.sliders["Smiling"].value() == -50 and panel.sliders["Eyeglasses"].value() == 25
    assert panel.sliders["Smiling"].minimum() == -200 and panel.sliders["Smiling"].maximum() == 200
    session = fake_editor.sessions[-1]
    # Dragging: many value changes, few previews (latest wins), the last one for the final value.
    for v in range(-50, 151, 10):
        panel.sliders["Smiling"].setValue(v)
    qtbot.waitUntil(lambda: not w.runner.pending("preview"), timeout=5000)
    assert session.previews[-1]["Smiling"] == 1.5 and len(session.previews) < 21
    assert session.previews[-1]["Eyeglasses"] == 0.2513  # unmoved: exactly the start, not the slider's 0.25
    assert np.allclose(w.preview.shown, 3.5 / 4)
    assert session.transfers[-1] == "local" and panel.subtle.isVisibleTo(panel)
    panel.subtle.setChecked(True)  # "subtle": a new preview, the pure difference transfer
    qtbot.waitUntil(lambda: session.transfers[-1] == "delta", timeout=5000)
    panel.subtle.setChecked(False)
    qtbot.waitUntil(lambda: session.transfers[-1] == "local", timeout=5000)
    qtbot.waitUntil(lambda: not w.runner.pending("preview"), timeout=5000)
    # Release (or Apply): one full-resolution undoable step.
    panel.sliders["Smiling"].sliderReleased.emit()
    wait_idle(qtbot, w)
    rgb = w.document.picture.rgb
    assert abs(rgb[10, 10, 0] - 3.5 / 4) < 1 / 255 and np.array_equal(rgb[40, 50], original[40, 50])
    assert w.document.history.next_undo().label == "Edit face attributes"
    # Renders are absolute: a second one replaces the first, not stacks on it.
    panel.sliders["Smiling"].setValue(-200)
    panel.apply()
    wait_idle(qtbot, w)
    assert abs(w.document.picture.rgb[10, 10, 0]) < 1 / 255
    # Reset: sliders back to the encoded values, the face region back as encoded.
    panel.reset()
    assert panel.sliders["Smiling"].value() == -50
    assert np.array_equal(w.document.picture.rgb, original)
    w.undo()
    assert abs(w.document.picture.rgb[10, 10, 0]) < 1 / 255
    # The sliders follow undo/redo of face steps: they always say what the photo shows.
    assert panel.sliders["Smiling"].value() == -200
    w.undo()
    assert panel.sliders["Smiling"].value() == 150 and abs(w.document.picture.rgb[10, 10, 0] - 3.5 / 4) < 1 / 255
    w.redo()
    assert panel.sliders["Smiling"].value() == -200 and panel.session is session
    # Another tool's result ends the session.
    paint_square(w, 40, 30, 50, 40)
    w.panel("inpaint").run()
    wait_idle(qtbot, w)
    assert panel.session is None and not panel.sliders and "find the face again" in panel.message.text()
    assert not panel.subtle.isVisibleTo(panel)


def test_face_box_goes_to_the_editor(qtbot, opened, fake_editor):  # noqa: F811
    opened.panel("edit").refresh()
    opened.canvas.set_box((4, 4, 30, 30))
    opened.panel("edit").find_face()
    wait_idle(qtbot, opened)
    assert fake_editor.sessions[-1].box == (4, 4, 30, 30)


def test_compare_view_shows_the_image_before_the_last_result(qtbot, opened, fake_inpainter):  # noqa: F811
    w, canvas = opened, opened.canvas
    paint_square(w)
    w.panel("inpaint").run()
    wait_idle(qtbot, w)
    w.act_compare.trigger()  # backslash
    assert canvas.compare and canvas.before_item is not None and not canvas.mask_item.isVisible()
    before = canvas.before_item.buffer
    assert tuple(before[12, 15, :3]) != (0, 255, 0)  # left side: before the fill
    assert tuple(canvas.image_item.buffer[12, 15, :3]) == (0, 255, 0)
    assert canvas.split_x == 32  # starts in the middle
    from test_ui_canvas import drag

    drag(qtbot, canvas, [(32, 20), (10, 20)])  # a left drag moves the line, it does not paint
    assert abs(canvas.split_x - 10) < 1 and abs(canvas.before_item.clip_right - canvas.split_x) < 1e-9
    assert not w.document.mask.any()  # the fill cleared it; the drag painted nothing
    w.act_compare.trigger()
    assert not canvas.compare and canvas.before_item is None and canvas.mask_item.isVisible()


def test_compare_before_anything_applied_shows_the_opened_image(opened):  # noqa: F811
    opened.toggle_compare(True)
    assert opened.canvas.compare and opened.canvas.compare_label.startswith("Opened")
    opened.cancel_job()  # Esc leaves compare when no job runs
    assert not opened.canvas.compare


def test_undoing_another_tools_result_ends_the_face_session(qtbot, opened, fake_editor, fake_inpainter):  # noqa: F811
    """Renders start from the photo as encoded: after undoing a fill made before encoding, a
    render would bring the fill back, so the session must end."""
    w, panel = opened, opened.panel("edit")
    panel.refresh()
    paint_square(w, 40, 30, 50, 40)
    w.panel("inpaint").run()
    wait_idle(qtbot, w)
    assert "find the face again" not in panel.message.text()  # there was no face session to end
    assert panel.find_face()
    wait_idle(qtbot, w)
    assert panel.session is not None
    w.undo()  # the fill
    assert panel.session is None and "find the face again" in panel.message.text()
