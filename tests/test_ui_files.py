"""Files: open/save round trip, the original is never overwritten silently, export, paste,
recent files, drops, the unsaved-changes prompt, autosave and crash recovery, dialogs."""

import json

import numpy as np
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication, QImage
from PySide6.QtWidgets import QMessageBox

from studio.imageio import load_image
from studio.ui import dialogs
from studio.ui.autosave import SESSION_JSON
from test_ui_support import (fake_inpainter, make_window, opened, paint_square, photo,  # noqa: F401
                             window, write_photo)


def edit(qtbot, w):
    paint_square(w)
    w.panel("inpaint").run()
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=10_000)
    assert w.document.dirty


def test_first_save_of_an_opened_file_goes_to_save_as(qtbot, opened, photo, fake_inpainter, tmp_path):  # noqa: F811
    w = opened
    original_bytes = photo.read_bytes()
    edit(qtbot, w)
    asked = []
    target = tmp_path / "out.png"
    w.files.ask_save_path = lambda title, suggested, *a: asked.append((title, suggested)) or target
    assert w.files.save()
    assert asked and asked[0][0] == "Save as" and asked[0][1].endswith("photo-edited.png")
    assert photo.read_bytes() == original_bytes  # the original is untouched
    saved = load_image(target)
    assert np.array_equal(saved.rgb, w.document.picture.rgb)  # 8-bit round trip is exact
    assert not w.document.dirty and w.document.save_path == target and "out.png" in w.windowTitle()
    # The next Save writes to the same file without asking.
    asked.clear()
    w.undo()
    assert w.document.dirty and w.files.save() and not asked
    assert np.array_equal(load_image(target).rgb, load_image(photo).rgb)
    assert w.settings.recent[0] == str(target.resolve())


def test_saving_over_the_original_needs_a_yes(qtbot, opened, photo, fake_inpainter):  # noqa: F811
    w = opened
    original_bytes = photo.read_bytes()
    edit(qtbot, w)
    w.files.ask_save_path = lambda *a: photo
    w.dialogs.answers = [False]
    assert not w.files.save_as()
    assert "original photo" in w.dialogs.questions[-1] and photo.read_bytes() == original_bytes
    w.dialogs.answers = [True]
    assert w.files.save_as()
    assert photo.read_bytes() != original_bytes and not w.document.dirty


def test_export_writes_a_copy_and_keeps_the_document_state(qtbot, opened, fake_inpainter, tmp_path):  # noqa: F811
    w = opened
    edit(qtbot, w)
    w.files.ask_save_path = lambda *a: tmp_path / "copy.jpg"
    assert w.files.export()
    assert load_image(tmp_path / "copy.jpg").size == (64, 48)
    assert w.document.dirty and w.document.save_path is None


def test_save_errors_show_a_dialog(opened, tmp_path):  # noqa: F811
    opened.files.ask_save_path = lambda *a: tmp_path / "out.xyz"
    assert not opened.files.save_as()
    assert "unknown extension" in opened.dialogs.errors[-1][1]


def test_corrupt_file_shows_a_real_message_box(qtbot, tmp_path, monkeypatch):
    """The dialog path itself, with QMessageBox answering at once."""
    from test_ui_support import make_window

    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda self: shown.append((self.windowTitle(), self.text())) or 0)
    w = make_window(qtbot, tmp_path)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    assert not w.files.open_path(bad)
    assert shown and shown[0][0] == "Cannot open image" and "broken.jpg" in shown[0][1]
    w.shutdown()


def test_unsaved_changes_prompt_on_close_and_open(qtbot, opened, photo, fake_inpainter, tmp_path):  # noqa: F811
    w = opened
    edit(qtbot, w)
    other = write_photo(tmp_path / "other.png", 20, 10)
    w.dialogs.answers = [dialogs.CANCEL]
    assert not w.files.open_path(other)
    assert w.document.source == photo
    w.dialogs.answers = [dialogs.CANCEL]
    assert not w.close() and w.isVisible()
    w.dialogs.answers = [dialogs.DISCARD]
    assert w.files.open_path(other) and w.document.size == (20, 10)
    assert w.close()  # nothing changed in the new image: no question
    assert w.dialogs.questions == ["save changes to photo.png"] * 3


def test_paste_from_clipboard_makes_an_untitled_image(window):  # noqa: F811
    img = QImage(30, 20, QImage.Format.Format_RGB32)
    img.fill(0xFF336699)
    QGuiApplication.clipboard().setImage(img)
    assert window.files.paste()
    doc = window.document
    assert doc.size == (30, 20) and doc.source is None and doc.dirty
    assert np.allclose(doc.picture.rgb[0, 0], np.array([0x33, 0x66, 0x99]) / 255)
    QGuiApplication.clipboard().clear()
    assert not window.files.paste() and "no image" in window.statusBar().currentMessage()


def test_dropping_a_file_opens_it(qtbot, window, photo):  # noqa: F811
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(photo))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.canvas.dropEvent(event)
    assert window.document is not None and window.document.source == photo


def test_recent_files_menu(window, photo):  # noqa: F811
    window.files.open_path(photo)
    window.files._fill_recent()
    assert [a.text() for a in window.files.recent_menu.actions()] == [str(photo.resolve())]


def test_autosave_then_recovery_after_a_crash(qtbot, tmp_path, photo, fake_inpainter, monkeypatch):  # noqa: F811
    from test_ui_support import Dialogs

    answers = Dialogs(monkeypatch)
    w = make_window(qtbot, tmp_path)
    w.files.open_path(photo)
    assert not w.autosaver.save_now()  # nothing changed yet: nothing to save
    edit(qtbot, w)
    w.document.mask[0:5, 0:5] = 255
    w.document.revision += 1
    with qtbot.waitSignal(w.autosaver.written, timeout=10_000):
        assert w.autosaver.save_now()
    folder = w.autosaver.folder
    info = json.loads((folder / SESSION_JSON).read_text())
    assert info["name"] == "photo.png" and info["size"] == [64, 48] and info["history_position"] >= 2
    image, mask = w.document.picture.rgb.copy(), w.document.mask.copy()
    # Simulate the crash: the folder stays and its process is gone.
    info["pid"] = 2 ** 22 + 12345
    (folder / SESSION_JSON).write_text(json.dumps(info))
    w.autosaver.discard = lambda: None  # a crash never gets to clean up
    w.ask_before_closing = False
    w.close()
    assert (folder / SESSION_JSON).exists()

    w2 = make_window(qtbot, tmp_path / "second")
    w2.autosaver.root = w.autosaver.root  # same user state dir
    answers.answers = [True]
    assert w2.files.offer_recovery()
    assert np.array_equal(w2.document.picture.rgb, image) and np.array_equal(w2.document.mask, mask)
    assert w2.document.source is None and w2.document.dirty  # recovered work must be saved anew
    assert not folder.exists()
    w2.ask_before_closing = False
    w2.close()
    assert not w2.autosaver.folder.exists()  # a clean exit leaves nothing behind


def test_clean_exit_removes_the_autosave(qtbot, opened, fake_inpainter):  # noqa: F811
    w = opened
    edit(qtbot, w)
    with qtbot.waitSignal(w.autosaver.written, timeout=10_000):
        w.autosaver.save_now()
    assert w.autosaver.folder.exists()
    w.dialogs.answers = [dialogs.DISCARD]
    assert w.close()
    assert not w.autosaver.folder.exists()


def test_icc_and_exif_survive_an_edit_and_save(qtbot, window, fake_inpainter, tmp_path):  # noqa: F811
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    src = tmp_path / "meta.jpg"
    Image.fromarray(np.full((40, 60, 3), 120, np.uint8)).save(src, icc_profile=icc, exif=exif.tobytes(), quality=95)
    assert window.files.open_path(src)
    edit(qtbot, window)
    window.files.ask_save_path = lambda *a: tmp_path / "meta-edited.jpg"
    assert window.files.save()
    out = load_image(tmp_path / "meta-edited.jpg")
    assert out.icc == icc
    with Image.open(tmp_path / "meta-edited.jpg") as im:
        assert im.getexif().get(0x010F) == "TestCam"


def test_mask_export_and_load_round_trip(opened, tmp_path):  # noqa: F811
    w = opened
    paint_square(w)
    painted = w.document.mask.copy()
    w.files.ask_save_path = lambda *a: tmp_path / "mask.png"
    w.masks.export_mask()
    w.masks.clear_mask()
    assert not w.document.mask.any()
    w.masks.load_mask(tmp_path / "mask.png")
    assert np.array_equal(w.document.mask, painted)
    assert w.document.history.next_undo().label == "Load mask"
