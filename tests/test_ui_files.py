"""Files: open/save round trip, the original is never overwritten silently, export, paste,
recent files, drops, the unsaved-changes prompt (a painted mask counts), save dialogs' file
types, projects, autosave (with the undo history) and crash recovery, damaged autosaves, dialogs."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from studio.imageio import load_image
from studio.project import load_project
from studio.ui import dialogs
from studio.ui.autosave import SESSION_JSON
from studio.ui.file_actions import PROJECT_FILTER, SAVE_FILTER
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
    assert answers.options[-1]["default_yes"]  # Enter recovers
    assert np.array_equal(w2.document.picture.rgb, image) and np.array_equal(w2.document.mask, mask)
    assert w2.document.source is None and w2.document.dirty  # recovered work must be saved anew
    assert not folder.exists()
    # The undo history came back too: undo walks back to the photo as opened.
    assert [s.label for s in w2.document.history.steps] == [s.label for s in w.document.history.steps]
    while w2.document.history.can_undo():
        w2.undo()
    assert np.array_equal(w2.document.picture.rgb, load_image(photo).rgb)
    w2.ask_before_closing = False
    w2.close()
    assert not w2.autosaver.folder.exists()  # a clean exit leaves nothing behind


def _crash_after_autosave(qtbot, w) -> Path:
    """Autosave w's document, then leave its folder behind as a crashed process would."""
    with qtbot.waitSignal(w.autosaver.written, timeout=10_000):
        assert w.autosaver.save_now()
    folder = w.autosaver.folder
    info = json.loads((folder / SESSION_JSON).read_text())
    info["pid"] = 2 ** 22 + 12346  # a process that is gone
    (folder / SESSION_JSON).write_text(json.dumps(info))
    w.autosaver.discard = lambda: None
    w.ask_before_closing = False
    w.close()
    return folder


@pytest.mark.parametrize("project_still_there", [True, False])
def test_a_recovered_project_document_saves_into_its_project(qtbot, tmp_path, photo, fake_inpainter,  # noqa: F811
                                                             monkeypatch, project_still_there):
    from test_ui_support import Dialogs

    answers = Dialogs(monkeypatch)
    w = make_window(qtbot, tmp_path)
    w.files.open_path(photo)
    edit(qtbot, w)
    project = tmp_path / "work.ganstudio"
    w.files.ask_save_path = lambda title, suggested, filter: project
    assert w.files.save_project()
    edit(qtbot, w)  # unsaved work after the project was saved: what the crash would lose
    image = w.document.picture.rgb.copy()
    _crash_after_autosave(qtbot, w)
    if not project_still_there:
        project.unlink()

    w2 = make_window(qtbot, tmp_path / "second")
    w2.autosaver.root = w.autosaver.root
    answers.answers = [True]
    assert w2.files.offer_recovery()
    doc = w2.document
    assert doc.dirty and doc.source is None  # recovered work is unsaved until saved
    if project_still_there:
        assert doc.project_path == project and w2.windowTitle().startswith("work.ganstudio")
        w2.files.ask_save_path = lambda *a: pytest.fail("Save of a recovered project asks nothing")
        assert w2.files.save() and not doc.dirty  # Ctrl+S writes the project again
        again = load_project(project)
        assert np.array_equal(again.picture.rgb, image)
        assert [s.label for s in again.history.steps] == [s.label for s in doc.history.steps]
    else:  # as for any recovered image: a new document that Save asks a name for
        assert doc.project_path is None and doc.name == "work (recovered)"
        asked = []
        w2.files.ask_save_path = lambda title, suggested, filter: asked.append(suggested)
        assert not w2.files.save() and asked
    w2.ask_before_closing = False
    w2.close()


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


# ---------------------------------------------------------------- save dialogs' file types

def test_save_dialogs_show_the_type_of_the_name_they_suggest(window, tmp_path, monkeypatch):
    Image.fromarray(np.full((20, 30, 3), 90, np.uint8)).save(tmp_path / "photo.jpg")
    assert window.files.open_path(tmp_path / "photo.jpg")
    shown = []

    def dialog(parent, title, suggested, filter, selected, options=None):
        shown.append((title, Path(suggested).name, selected))
        return "", ""  # the user cancels

    monkeypatch.setattr(QFileDialog, "getSaveFileName", dialog)
    files = window.files
    assert not files.save_as() and not files.export() and not files.save_project_as()
    window.masks.export_mask()
    assert shown == [("Save as", "photo-edited.jpg", "JPEG (*.jpg *.jpeg)"),
                     ("Export a copy", "photo-export.jpg", "JPEG (*.jpg *.jpeg)"),
                     ("Save project", "photo.ganstudio", PROJECT_FILTER),
                     ("Export mask", "photo-mask.png", "PNG (*.png)")]


def test_a_typed_extension_wins_over_the_chosen_type(window, monkeypatch, tmp_path):
    answer = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: answer.pop())
    ask = window.files.ask_save_path
    jpeg = "JPEG (*.jpg *.jpeg)"
    for typed, chosen, filter, expected in [
            ("a.png", jpeg, SAVE_FILTER, "a.png"),  # typed wins over the chosen type
            ("b.JPEG", "PNG (*.png)", SAVE_FILTER, "b.JPEG"),
            ("c", jpeg, SAVE_FILTER, "c.jpg"),  # no extension: the chosen type's
            ("photo.v2", "PNG (*.png)", SAVE_FILTER, "photo.v2.png"),  # not an extension the dialog knows
            ("work.png", PROJECT_FILTER, PROJECT_FILTER, "work.png.ganstudio")]:  # a project stays a project
        answer.append((str(tmp_path / typed), chosen))
        assert ask("Save", str(tmp_path / "x.png"), filter) == tmp_path / expected, typed


# ---------------------------------------------------------------- the mask is work

def test_a_painted_mask_marks_the_image_changed_and_closing_asks(qtbot, opened, tmp_path):  # noqa: F811
    w = opened
    assert not w.document.dirty and not w.isWindowModified()
    paint_square(w)
    assert w.document.dirty and w.isWindowModified() and not w.document.image_dirty
    w.dialogs.answers = [dialogs.CANCEL]
    assert not w.close() and w.isVisible()
    assert w.dialogs.options[-1] == {"mask": True, "image": False}  # Save project is what keeps it

    # Exporting the mask keeps it, and says nothing about the image (never saved as a file).
    w.files.ask_save_path = lambda *a: tmp_path / "mask.png"
    w.masks.export_mask()
    assert not w.document.dirty and w.document.save_path is None and not w.isWindowModified()
    w.masks.invert_mask()
    assert w.document.dirty  # changed again since it was kept

    w.dialogs.answers = [dialogs.SAVE_PROJECT]
    w.files.ask_save_path = lambda *a: tmp_path / "work.ganstudio"
    assert w.close()
    assert np.array_equal(load_project(tmp_path / "work.ganstudio").mask, w.document.mask)


def test_the_real_questions_answer_enter_with_the_safe_choice(qtbot, monkeypatch):
    """Enter in the recovery question recovers; in the close question it saves (a project when
    the mask needs one); Escape cancels."""
    keys = []

    def press(box):
        box.show()
        QTest.keyClick(box, keys.pop(0))
        return 0

    monkeypatch.setattr(QMessageBox, "exec", press)
    enter, escape = Qt.Key.Key_Return, Qt.Key.Key_Escape
    keys[:] = [enter, enter, escape]
    assert dialogs.ask_yes_no(None, "Recover?", "Recover it?", default_yes=True, yes="&Recover", no="&Discard")
    assert not dialogs.ask_yes_no(None, "Replace?", "Replace it?")  # No stays the default elsewhere
    assert not dialogs.ask_yes_no(None, "Recover?", "Recover it?", default_yes=True)
    keys[:] = [enter, enter, enter, escape]
    assert dialogs.ask_save_changes(None, "a.png", mask=True, image=True) == dialogs.SAVE_PROJECT
    assert dialogs.ask_save_changes(None, "a.png", mask=True, image=False) == dialogs.SAVE_PROJECT
    assert dialogs.ask_save_changes(None, "a.png") == dialogs.SAVE
    assert dialogs.ask_save_changes(None, "a.png", mask=True) == dialogs.CANCEL


# ---------------------------------------------------------------- projects in the window

def test_project_save_and_open_keep_the_work_and_its_undo(qtbot, opened, photo, fake_inpainter, tmp_path):  # noqa: F811
    w = opened
    edit(qtbot, w)  # a mask step and an inpaint step
    w.canvas.set_box((4, 6, 20, 20))
    image, mask = w.document.picture.rgb.copy(), w.document.mask.copy()
    w.files.ask_save_path = lambda title, suggested, filter: tmp_path / "work.ganstudio"
    assert w.files.save_project()
    assert not w.document.dirty and w.windowTitle().startswith("work.ganstudio")
    assert w.settings.recent[0] == str((tmp_path / "work.ganstudio").resolve())

    w2 = make_window(qtbot, tmp_path / "another-day")
    assert w2.files.open_path(tmp_path / "work.ganstudio")  # what Ctrl+O and the recent menu call
    doc = w2.document
    assert np.array_equal(doc.picture.rgb, image) and np.array_equal(doc.mask, mask)
    assert doc.face_box == (4, 6, 20, 20) and w2.canvas.box_item.isVisible()
    assert not doc.dirty and doc.source == photo
    w2.undo()  # the inpaint
    assert np.array_equal(doc.picture.rgb, load_image(photo).rgb) and doc.dirty
    w2.undo()  # the mask
    assert not doc.mask.any()
    w2.redo()
    w2.files.ask_save_path = lambda *a: pytest.fail("Save of a project document asks nothing")
    assert w2.files.save()  # Ctrl+S writes the project it came from
    again = load_project(tmp_path / "work.ganstudio")
    assert again.history.position == 1 and len(again.history.steps) == 2
    w2.ask_before_closing = False
    w2.shutdown()


def test_a_damaged_project_shows_one_message(window, tmp_path):  # noqa: F811
    bad = tmp_path / "bad.ganstudio"
    bad.write_bytes(b"PK\x03\x04 truncated")
    assert not window.files.open_path(bad)
    assert window.dialogs.errors == [("Cannot open project", window.dialogs.errors[0][1], None)]
    assert "damaged or truncated" in window.dialogs.errors[0][1] and window.document is None


# ---------------------------------------------------------------- autosave: history and bad folders

def test_autosave_writes_only_the_steps_that_are_new(qtbot, opened):  # noqa: F811
    w = opened
    saver = w.autosaver

    def autosave() -> set[str]:
        with qtbot.waitSignal(saver.written, timeout=10_000):
            assert saver.save_now()
        return {p.name for p in saver.folder.glob("step-*.npz")}

    paint_square(w)
    first = w.document.history.steps[0]
    assert autosave() == {f"step-{first.uid}.npz"}
    stamp = (saver.folder / f"step-{first.uid}.npz").stat()
    paint_square(w, 40, 30, 50, 40)
    second = w.document.history.steps[1]
    assert autosave() == {f"step-{first.uid}.npz", f"step-{second.uid}.npz"}
    again = (saver.folder / f"step-{first.uid}.npz").stat()
    assert (again.st_ino, again.st_mtime_ns) == (stamp.st_ino, stamp.st_mtime_ns)  # not written again
    w.undo()
    paint_square(w, 0, 0, 5, 5)  # replaces the undone step
    third = w.document.history.steps[1]
    assert autosave() == {f"step-{first.uid}.npz", f"step-{third.uid}.npz"}


DEAD_PID = 2 ** 22 + 4321  # above Linux's largest pid: never a live process


@pytest.mark.parametrize("content", ['{"pid": "abc", "time": 1}', '{"pid": 1e20, "time": 1}', "[1, 2, 3]",
                                     '{"pid": 100000000000000000000}', "{not json", '{"time": 5}'])
def test_a_damaged_autosave_never_blocks_the_start(qtbot, tmp_path, photo, monkeypatch, content):  # noqa: F811
    from test_ui_support import Dialogs

    answers = Dialogs(monkeypatch)
    root = tmp_path / "state" / "autosave"
    abandoned, live, unknown = root / f"session-{DEAD_PID}", root / f"session-{os.getppid()}", root / "notes"
    for folder in (abandoned, live, unknown):
        folder.mkdir(parents=True)
        (folder / SESSION_JSON).write_text(content)
    unreadable = root / f"session-{DEAD_PID + 1}"  # a whole JSON, but its image is gone
    unreadable.mkdir()
    (unreadable / SESSION_JSON).write_text(json.dumps({"pid": DEAD_PID + 1, "time": 1, "name": "x.png"}))

    w = make_window(qtbot, tmp_path)
    # What the app does at start: recovery first, then the file asked for.
    assert not w.files.offer_recovery() and w.files.open_path(photo)
    assert w.document.source == photo and not answers.errors and not answers.questions
    assert not abandoned.exists() and not unreadable.exists()  # nobody will ever finish them
    assert live.exists() and unknown.exists()  # a running instance's, and not ours: left alone
    w.ask_before_closing = False
    w.close()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_a_killed_process_nobody_reaped_counts_as_gone():
    """Containers often reap no orphans: a crashed instance stays a zombie, its work still recoverable."""
    import subprocess
    import sys
    import time

    from studio.ui.autosave import _pid_alive

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    stat = Path(f"/proc/{child.pid}/stat")
    deadline = time.time() + 10
    while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z" and time.time() < deadline:
        time.sleep(0.02)
    try:
        assert not _pid_alive(child.pid)
        assert _pid_alive(os.getpid()) and _pid_alive(os.getppid())
    finally:
        child.wait()
