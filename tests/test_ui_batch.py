"""Tools > Batch: a tool over a folder with its panel's settings, one job, a report at the end."""

from __future__ import annotations

import threading

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt

from test_ui_support import FakeInpainter, fake_engines, opened, photo, window, write_photo  # noqa: F401


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


def test_only_tools_with_a_generic_panel_are_offered(window, tmp_path):  # noqa: F811
    window.tabs.setCurrentWidget(window.panel("edit"))
    window.open_batch()
    d = window.batch_dialog
    assert "edit" not in [d.tool.itemData(i) for i in range(d.tool.count())]
    d.choose_tool("upscale")
    assert not d.mask_row.isEnabled()  # upscaling reads no mask
    d.choose_tool("inpaint")
    assert d.mask_row.isEnabled()
    window.panel("inpaint").form.set_value("seed", 42)  # the summary follows the panel while open
    assert "seed 42" in d.settings_label.text()
