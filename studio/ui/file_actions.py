"""The window's file work: open (dialog, recent files, paste, drops), save, save as, export a
copy, the unsaved-changes question, and the offer to recover an autosaved session after a crash.

Rules it keeps: the opened file is never overwritten without an explicit yes (the first Save of
an opened file is a Save As); while a job runs, opening and pasting wait.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu

from studio.editing.document import Document
from studio.errors import StudioError
from studio.ui import dialogs
from studio.ui.autosave import read_session, remove_session
from studio.ui.busy_io import run_off_ui_thread

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow

OPEN_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp);;All files (*)"
SAVE_FILTER = "PNG (*.png);;JPEG (*.jpg *.jpeg);;WebP (*.webp);;TIFF (*.tif *.tiff);;BMP (*.bmp)"


class FileActions(QObject):
    """The File menu's actions and their slots. Of the window it uses: document, set_document,
    update_actions, status, settings, runner, autosaver and add_action."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window
        K = QKeySequence.StandardKey
        a = window.add_action
        self.act_open = a("&Open…", self.choose_file, K.Open)
        self.act_save = a("&Save", self.save, K.Save)
        self.act_save_as = a("Save &As…", self.save_as, "Ctrl+Shift+S")
        self.act_export = a("&Export a copy…", self.export, "Ctrl+E")
        self.act_paste = a("&Paste image", self.paste, K.Paste)
        self.recent_menu = QMenu("Open &recent", window)
        self.recent_menu.aboutToShow.connect(self._fill_recent)

    # ================================================================ opening
    def _can_replace_document(self) -> bool:
        if self.window.runner.busy:
            self.window.status("Wait for the running job to finish (or cancel it with Esc) first")
            return False
        return self.maybe_save_changes()

    def maybe_save_changes(self) -> bool:
        """True when the current image may be closed (saved, discarded or unchanged)."""
        doc = self.window.document
        if doc is None or not doc.dirty:
            return True
        answer = dialogs.ask_save_changes(self.window, doc.name)
        if answer == dialogs.SAVE:
            return self.save()
        return answer == dialogs.DISCARD

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open image", self._last_folder(), OPEN_FILTER)
        if path:
            self.open_path(Path(path))

    def _last_folder(self) -> str:
        recent = self.window.settings.recent
        return str(Path(recent[0]).parent) if recent else ""

    def open_path(self, path: Path) -> bool:
        from studio.imageio import load_image

        w = self.window
        if not self._can_replace_document():
            return False
        w.status(f"Opening {path} …")
        try:
            picture = run_off_ui_thread(load_image, path)
        except StudioError as e:
            w.status("")
            dialogs.show_error(w, "Cannot open image", str(e))
            return False
        except MemoryError:
            w.status("")
            dialogs.show_error(w, "Cannot open image", f"Not enough memory to open {path}.")
            return False
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            w.set_document(Document(picture, source=Path(path)))
        finally:
            QApplication.restoreOverrideCursor()
        w.settings.add_recent(path)
        width, height = picture.size
        w.status(f"Opened {path}  ({width}×{height}, {picture.bit_depth}-bit)")
        return True

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.window.settings.recent
        for p in recent:
            self.recent_menu.addAction(p, lambda p=p: self.open_path(Path(p)))
        if not recent:
            self.recent_menu.addAction("(none)").setEnabled(False)

    def paste(self) -> bool:
        from studio.imageio import Picture

        from studio.ui.qimage import qimage_to_arrays

        clip = QGuiApplication.clipboard()
        mime = clip.mimeData()
        if mime is not None and mime.hasUrls() and not mime.hasImage():
            local = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
            if local:
                return self.open_path(Path(local[0]))
        image = clip.image()
        if image.isNull():
            self.window.status("The clipboard holds no image")
            return False
        if not self._can_replace_document():
            return False
        rgb, alpha = qimage_to_arrays(image)
        self.window.set_document(Document(Picture(rgb=rgb, alpha=alpha)))
        self.window.status(f"Pasted a {image.width()}×{image.height()} image")
        return True

    # ================================================================ saving
    def suggest_path(self, tail: str, suffix: str | None = None) -> str:
        """Where a save dialog starts: beside the saved file, else the opened one with tail."""
        doc = self.window.document
        base = doc.save_path or doc.source
        if base is None:
            return str(Path.home() / f"untitled{tail}{suffix or '.png'}")
        stem = base.stem if doc.save_path else base.stem + tail
        return str(base.with_name(stem + (suffix or base.suffix)))

    def ask_save_path(self, title: str, suggested: str, filter: str = SAVE_FILTER) -> Path | None:
        """The file dialog (tests replace this). Overwriting is confirmed by _confirm_target."""
        path, _ = QFileDialog.getSaveFileName(self.window, title, suggested, filter,
                                              options=QFileDialog.Option.DontConfirmOverwrite)
        if not path:
            return None
        path = Path(path)
        return path if path.suffix else path.with_suffix(".png")

    def _is_original(self, path: Path) -> bool:
        doc = self.window.document
        src = doc.source if doc else None
        try:
            return src is not None and path.exists() and src.exists() and path.samefile(src)
        except OSError:
            return False

    def _confirm_target(self, path: Path) -> bool:
        if self._is_original(path):
            return dialogs.ask_yes_no(self.window, "Replace the original?",
                                      f"{path.name} is the original photo you opened. Replace it with the edited "
                                      "image? The original pixels will be gone.")
        if path.exists():
            return dialogs.ask_yes_no(self.window, "Replace file?", f"{path.name} already exists. Replace it?")
        return True

    def save(self) -> bool:
        doc = self.window.document
        if doc is None:
            return False
        if doc.save_path is None:  # first save of an opened (or pasted) image: never onto the original
            return self.save_as()
        return self._save_document(doc.save_path)

    def save_as(self) -> bool:
        if self.window.document is None:
            return False
        path = self.ask_save_path("Save as", self.suggest_path("-edited"))
        if path is None or not self._confirm_target(path):
            return False
        return self._save_document(path)

    def _save_document(self, path: Path) -> bool:
        doc = self.window.document
        if not self.write(path, doc.picture):
            return False
        doc.mark_saved(path)
        self.window.settings.add_recent(path)
        self.window.update_actions()
        return True

    def export(self) -> bool:
        """A copy in any format; the document keeps its own file and unsaved state."""
        doc = self.window.document
        if doc is None:
            return False
        path = self.ask_save_path("Export a copy", self.suggest_path("-export", ".jpg"))
        if path is None or not self._confirm_target(path):
            return False
        return self.write(path, doc.picture, what="copy")

    def write(self, path: Path, picture, what: str = "image") -> bool:
        """Write picture to path (already confirmed); the outcome goes to the status bar or a dialog."""
        from studio.imageio import save_image

        w = self.window
        src = w.document.source
        original = self._is_original(path)  # the user said yes to replacing it in _confirm_target
        w.status(f"Saving {what} to {path} …")
        if w.runner.busy:  # a job finishing during the write may patch the image in place
            picture = dataclasses.replace(picture, rgb=picture.rgb.copy())
        try:
            notes = run_off_ui_thread(save_image, path, picture, overwrite=True, protect=[src] if src else [],
                                      overwrite_input=original)
        except StudioError as e:
            w.status("")
            dialogs.show_error(w, "Cannot save", str(e))
            return False
        w.status(f"Saved {what} to {path}" + ("; note: " + "; ".join(notes) if notes else ""))
        return True

    # ================================================================ recovery
    def offer_recovery(self) -> bool:
        """After a crash: offer the newest autosaved session left behind."""
        w = self.window
        folders = w.autosaver.recoverable()
        if not folders:
            return False
        folder = folders[0]
        try:
            picture, mask, info = read_session(folder)
        except (StudioError, OSError, ValueError, KeyError) as e:
            w.status(f"An autosaved session could not be read ({e}); it was removed")
            remove_session(folder)
            return False
        if not dialogs.ask_yes_no(w, "Recover unsaved work?",
                                  f"GAN Studio did not close properly last time. Recover the autosaved "
                                  f"{info.get('name', 'image')} ({picture.size[0]}×{picture.size[1]}) "
                                  "with its mask?"):
            for f in folders:
                remove_session(f)
            return False
        doc = Document(picture)
        doc.mask[:] = mask
        doc.untitled_name = f"{Path(info.get('name') or 'image').stem} (recovered)"
        w.set_document(doc)
        for f in folders:
            remove_session(f)
        w.status(f"Recovered {info.get('name', 'the image')}; save it with Save As")
        return True
