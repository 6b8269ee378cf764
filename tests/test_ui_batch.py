"""Tools > Batch: a tool over a folder with its panel's settings, one job, a report at the end."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from studio.errors import StudioError
from studio.ui.face_panel import NOTHING_TO_APPLY
from test_ui_support import (FakeInpainter, fake_engines, install_editor, opened, photo, window,  # noqa: F401
                             write_photo)
from test_ui_tools import FakeEditor


def folders(tmp_path, n=3, bad=None):
    """n photos in in/, their masks (a white square) in masks/; `bad`: a file name holding no image."""
    src, masks = tmp_path / "in", tmp_path / "masks"
    src.mkdir()
    masks.mkdir()
    for i in range(n):
        write_photo(src / f"p{i}.png", seed=i)
        m = np.zeros((48, 64), np.uint8)
        m[10:20, 10:30] = 255
        Image.fromarray(m).save(masks / f"p{i}.png")
    if bad:
        (src / bad).write_bytes(b"not an image at all")
        Image.fromarray(m).save(masks / bad)
    return src, masks, tmp_path / "out"


def batch_dialog(window, src, masks, out, tool="inpaint"):  # noqa: F811
    window.tabs.setCurrentWidget(window.panel(tool))
    window.open_batch()
    d = window.batch_dialog
    d.input.setText(str(src))
    d.masks.setText(str(masks))
    d.output.setText(str(out))
    return d


def test_every_file_runs_with_the_panel_settings_and_the_document_is_untouched(qtbot, opened, tmp_path,  # noqa: F811
                                                                               monkeypatch):
    engine = FakeInpainter()
    fake_engines(monkeypatch, inpaint=engine)
    panel = opened.panel("inpaint")
    panel.form.set_value("engine", "photo")
    panel.form.set_value("seed", 7)
    panel.form.set_value("detail", 0.3)
    before = opened.document.picture.rgb.copy()
    src, masks, out = folders(tmp_path)
    d = batch_dialog(opened, src, masks, out)
    assert d.tool.currentData() == "inpaint"  # the current tab's tool
    assert "Restore panel's settings" in d.settings_label.text() and "seed 7" in d.settings_label.text()
    assert "detail 30 %" in d.settings_label.text()

    assert d.run()
    qtbot.waitUntil(lambda: not d.running, timeout=10_000)
    assert [o.seed for o in engine.options] == [7, 7, 7]
    assert all(o == panel.options() for o in engine.options)
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p1.png", "p2.png"]
    result = np.asarray(Image.open(out / "p1.png"))
    assert (result[12, 12] == (0, 255, 0)).all()  # the masked square came back filled
    assert "3 of 3 files done, 0 failed" in d.log.toPlainText()
    # The batch leaves the open image alone: no new step, same pixels.
    assert not opened.document.history.can_undo()
    assert np.array_equal(opened.document.picture.rgb, before)


def test_a_corrupt_file_is_reported_and_skipped(qtbot, window, tmp_path, monkeypatch):  # noqa: F811
    fake_engines(monkeypatch, inpaint=FakeInpainter())
    src, masks, out = folders(tmp_path, bad="p1b.png")
    (masks / "p2.png").unlink()  # an image without its mask fails alone too
    d = batch_dialog(window, src, masks, out)
    assert d.run()
    qtbot.waitUntil(lambda: not d.running, timeout=10_000)
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p1.png"]
    report = d.log.toPlainText()
    assert report.startswith("2 of 4 files done, 2 failed.")
    failed = dict(d.report.failed)
    assert set(failed) == {"p1b.png", "p2.png"}
    assert "\n" not in failed["p1b.png"] and "p1b.png" in report
    assert "no file named p2.*" in failed["p2.png"]
    assert window.dialogs.errors == []  # one bad file is a line in the report, not an error box


def test_the_input_folder_as_output_is_refused(qtbot, window, tmp_path, monkeypatch):  # noqa: F811
    built = fake_engines(monkeypatch, inpaint=FakeInpainter())
    src, masks, _ = folders(tmp_path)
    d = batch_dialog(window, src, masks, src)
    assert not d.run()
    assert d.message.text().startswith("The output folder is the input folder")
    assert not d.running and not window.runner.busy and built == []
    d.output.setText("")
    qtbot.keyClick(d.output, Qt.Key.Key_Return)  # Enter in a field is Run (not a Browse button)
    assert d.message.text() == "Choose the output folder" and not window.runner.busy


class BlockingInpainter(FakeInpainter):
    """Holds its first run until the test lets it go, so the test can cancel mid-batch."""

    def __init__(self):
        super().__init__()
        self.running, self.release = threading.Event(), threading.Event()

    def run(self, rgb, mask, options, job):
        out = super().run(rgb, mask, options, job)
        self.running.set()
        self.release.wait(10)
        return out


def test_cancel_stops_between_files_and_keeps_the_finished_ones(qtbot, window, tmp_path, monkeypatch):  # noqa: F811
    engine = BlockingInpainter()
    fake_engines(monkeypatch, inpaint=engine)
    src, masks, out = folders(tmp_path)
    d = batch_dialog(window, src, masks, out)
    assert d.run()
    qtbot.waitUntil(engine.running.is_set, timeout=10_000)
    qtbot.keyClick(d, Qt.Key.Key_Escape)  # cancels; the dialog stays open for the report
    assert d.isVisible()
    engine.release.set()
    qtbot.waitUntil(lambda: not d.running, timeout=10_000)
    assert engine.calls == 1
    assert [p.name for p in out.iterdir()] == ["p0.png"]  # the finished file, no temporary one
    assert d.log.toPlainText().startswith("Cancelled after 1 of 3 files")
    assert d.close_button.isVisible() and d.run_button.isEnabled()


def test_every_tool_is_offered_with_its_own_mask_need(window, tmp_path):  # noqa: F811
    window.tabs.setCurrentWidget(window.panel("edit"))
    window.open_batch()
    d = window.batch_dialog
    assert {"inpaint", "upscale", "edit"} <= {d.tool.itemData(i) for i in range(d.tool.count())}
    assert d.tool.currentData() == "edit"  # the face tab was current
    assert not d.mask_row.isEnabled()
    d.choose_tool("upscale")
    assert not d.mask_row.isEnabled()  # upscaling reads no mask
    d.choose_tool("inpaint")
    assert d.mask_row.isEnabled()
    window.panel("inpaint").form.set_value("seed", 42)  # the summary follows the panel while open
    assert "seed 42" in d.settings_label.text()


# ------------------------------------------------------------------ the Face tool
class BatchEditor(FakeEditor):
    """The face stand-in plus the one-shot `run` a batch calls (as FaceEditor.run: encode, then
    render the photo's own values with the changes on top); photos narrower than 40 px hold no face."""

    def __init__(self):
        super().__init__()
        self.runs = []

    def check(self, options):
        for name, _ in options.changes:
            if name not in self.attributes:
                raise StudioError(f"unknown attribute {name!r}")

    def run(self, rgb, mask=None, options=None, job=None):
        if rgb.shape[1] < 40:
            raise StudioError("no face found; give the face's square with --box x,y,w,h",
                              gui="No face found: draw a face box (F) around the face.")
        self.runs.append(options)
        session = self.encode(rgb, job, options)
        return session.render({**session.values, **dict(options.changes)}, job, options.transfer)


@pytest.fixture
def batch_editor(monkeypatch):
    return install_editor(monkeypatch, BatchEditor())


def found_face(qtbot, window):  # noqa: F811
    panel = window.panel("edit")
    panel.refresh()
    assert panel.find_face()
    qtbot.waitUntil(lambda: not window.runner.busy and panel.session is not None, timeout=10_000)
    return panel


def test_the_face_tool_applies_the_moved_sliders_to_every_photo(qtbot, opened, batch_editor, tmp_path):  # noqa: F811
    panel = found_face(qtbot, opened)
    src, masks, out = folders(tmp_path)
    write_photo(src / "tiny.png", w=30, h=30)  # no face in it
    d = batch_dialog(opened, src, masks, out, tool="edit")
    panel.sliders["Smiling"].setValue(100)  # from -0.50 to +1.00; Eyeglasses stays where it was found
    panel.subtle.setChecked(True)
    assert d.tool.currentData() == "edit"
    assert d.settings_label.text() == "Uses the Face panel's settings: Smiling +1.00; delta transfer."
    before = opened.document.picture.rgb.copy()
    batch_editor.sessions.clear()

    assert d.run()
    qtbot.waitUntil(lambda: not d.running, timeout=10_000)
    assert [(o.changes, o.transfer, o.box) for o in batch_editor.runs] == [((("Smiling", 1.0),), "delta", None)] * 3
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p1.png", "p2.png"]
    result = np.asarray(Image.open(out / "p1.png"))
    assert abs(int(result[10, 10, 0]) - 191) <= 1  # the face box got Smiling=1: (1 + 2) / 4
    assert batch_editor.sessions[0].transfers == ["delta"]
    assert dict(d.report.failed) == {"tiny.png": "No face found: draw a face box (F) around the face."}
    assert d.log.toPlainText().startswith("3 of 4 files done, 1 failed.")
    assert opened.dialogs.errors == []  # a photo without a face is a line in the report
    assert np.array_equal(opened.document.picture.rgb, before) and not opened.document.history.can_undo()


def test_the_face_tool_refuses_to_start_with_nothing_to_apply(qtbot, opened, batch_editor, tmp_path):  # noqa: F811
    src, masks, out = folders(tmp_path)
    d = batch_dialog(opened, src, masks, out, tool="edit")
    assert d.settings_label.text() == NOTHING_TO_APPLY + "."  # no face found yet
    assert not d.run() and d.message.text() == NOTHING_TO_APPLY

    panel = found_face(qtbot, opened)  # a face, but every slider where it was found
    panel.sliders["Eyeglasses"].setValue(100)
    assert "Eyeglasses +1.00; local transfer" in d.settings_label.text()  # follows the panel while open
    panel.reset()
    qtbot.waitUntil(lambda: not opened.runner.busy, timeout=10_000)
    assert d.settings_label.text() == NOTHING_TO_APPLY + "."
    assert not d.run() and d.message.text() == NOTHING_TO_APPLY
    assert batch_editor.runs == [] and not out.exists()
