"""The window's file work: open (dialog, recent files, paste, drops), save, save as, export a
copy, projects (open, save, save as), the unsaved-changes question, and the offer to recover an
autosaved session after a crash.

Rules it keeps: the opened file is never overwritten without an explicit yes (the first Save of
an opened file is a Save As); while a job runs, opening and pasting wait. A document opened
from (or saved as) a project is saved by Save into that project; Save As makes an image file
the document's file instead. A save dialog's file type always matches the name it suggests;
a typed extension the dialog knows wins over the chosen type, any other name gets the type's.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu

from studio.editing.document import Document
from studio.errors import StudioError
from studio.project import SUFFIX as PROJECT_SUFFIX
from studio.project import is_project
from studio.ui import dialogs
from studio.ui.autosave import read_session, remove_session
from studio.ui.busy_io import run_off_ui_thread
from studio.ui.video_panel import VIDEO_PATTERNS, is_video

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow

IMAGE_PATTERNS = "*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp"
OPEN_FILTER = f"Images ({IMAGE_PATTERNS});;All files (*)"
PROJECT_FILTER = f"GAN Studio projects (*{PROJECT_SUFFIX})"
OPEN_ANY_FILTER = f"Images, videos and projects ({IMAGE_PATTERNS} {VIDEO_PATTERNS} *{PROJECT_SUFFIX});;" \
                  f"Images ({IMAGE_PATTERNS});;Videos ({VIDEO_PATTERNS});;{PROJECT_FILTER};;All files (*)"
SAVE_FILTER = "PNG (*.png);;JPEG (*.jpg *.jpeg);;WebP (*.webp);;TIFF (*.tif *.tiff);;BMP (*.bmp)"


def filter_extensions(entry: str) -> list[str]:
    """".png", ".jpg"... of one filter entry such as "JPEG (*.jpg *.jpeg)"."""
    return [e.lower() for e in re.findall(r"\*(\.\w+)", entry)]


def filter_for(suffix: str, filter: str) -> str:
    """The entry of filter ("A (*.a);;B (*.b)") that holds suffix, else its first."""
    entries = filter.split(";;")
    return next((e for e in entries if suffix.lower() in filter_extensions(e)), entries[0])


def finish_path(typed: str, chosen: str, filter: str) -> Path:
    """The file a save dialog answered: a typed extension the filter knows wins; any other name
    gets the chosen entry's extension ("photo.v2" as PNG is "photo.v2.png")."""
    path = Path(typed)
    if path.suffix.lower() in filter_extensions(filter):
        return path
    return path.with_name(path.name + (filter_extensions(chosen) or filter_extensions(filter))[0])


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
        # Ctrl+Alt: free in the window and on common desktops; Ctrl+Shift+S is Save As already.
        self.act_open_project = a("Open pro&ject…", self.choose_project, "Ctrl+Alt+O")
        self.act_save_project = a("Sa&ve project", self.save_project, "Ctrl+Alt+S",
                                  tip="Image, mask, face box and undo history in one file, to go on later")
        self.act_save_project_as = a("Save project as…", self.save_project_as, "Ctrl+Alt+Shift+S")
        self.recent_menu = QMenu("Open &recent", window)
        self.recent_menu.aboutToShow.connect(self._fill_recent)

    # ================================================================ opening
    def _can_replace_document(self) -> bool:
        if self.window.runner.busy:
            self.window.status("Wait for the running job to finish (or cancel it with Esc) first")
            return False
        return self.maybe_save_changes()

    def maybe_save_changes(self) -> bool:
        """True when the current image may be closed (saved, discarded or unchanged). A changed
        mask is work too: outside a project only a project file keeps it, so that is offered."""
        doc = self.window.document
        if doc is None or not doc.dirty:
            return True
        video = self.window.video.active  # no project holds a video: only an unsaved result is asked about
        if video and (not doc.image_dirty or self.window.video.result is None):
            return True
        mask = doc.mask_dirty and doc.project_path is None and not video
        answer = dialogs.ask_save_changes(self.window, doc.name, mask=mask, image=doc.image_dirty)
        if answer == dialogs.SAVE:
            return self.save()
        if answer == dialogs.SAVE_PROJECT:
            return self.save_project()
        return answer == dialogs.DISCARD

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open image, video or project", self._last_folder(),
                                              OPEN_ANY_FILTER)
        if path:
            self.open_path(Path(path))

    def choose_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open project", self._last_folder(),
                                              f"{PROJECT_FILTER};;All files (*)")
        if path:
            self.open_path(Path(path))

    def _last_folder(self) -> str:
        recent = self.window.settings.recent
        return str(Path(recent[0]).parent) if recent else ""

    def open_path(self, path: Path) -> bool:
        """Open an image, or a project (by its extension)."""
        from studio.imageio import load_image

        w = self.window
        if not self._can_replace_document():
            return False
        if is_project(path):
            return self._open_project(Path(path))
        if is_video(path):
            return w.video.open(Path(path))
        picture = self._read("image", load_image, path)
        if picture is None:
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

    def _read(self, what: str, load, path: Path):
        """load(path) off the UI thread; None, after saying why, when it fails."""
        self.window.status(f"Opening {path} …")
        try:
            return run_off_ui_thread(load, path)
        except StudioError as e:
            message = str(e)
        except MemoryError:
            message = f"Not enough memory to open {path}."
        self.window.status("")
        dialogs.show_error(self.window, f"Cannot open {what}", message)
        return None

    def _open_project(self, path: Path) -> bool:
        from studio.project import load_project

        w = self.window
        doc = self._read("project", load_project, path)
        if doc is None:
            return False
        w.set_document(doc)
        w.settings.add_recent(path)
        width, height = doc.size
        steps = doc.history.position
        w.status(f"Opened project {path}  ({width}×{height}, {doc.bit_depth}-bit, "
                 f"{steps} step{'s' if steps != 1 else ''} to undo)")
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
        """Where a save dialog starts: the document's file's name plus tail, beside it; suffix
        None keeps the file's image type (PNG when it has none)."""
        from studio.imageio import FORMATS

        doc = self.window.document
        base = doc.save_path or doc.source or doc.project_path
        if suffix is None:
            suffix = base.suffix if base is not None and base.suffix.lower() in FORMATS else ".png"
        if base is None:
            return str(Path.home() / f"{doc.untitled_name}{tail}{suffix}")
        return str(base.with_name(base.stem + tail + suffix))

    def ask_save_path(self, title: str, suggested: str, filter: str = SAVE_FILTER) -> Path | None:
        """The file dialog (tests replace this), its file type the suggestion's. Overwriting is
        confirmed by confirm_target."""
        path, chosen = QFileDialog.getSaveFileName(self.window, title, suggested, filter,
                                                   filter_for(Path(suggested).suffix, filter),
                                                   options=QFileDialog.Option.DontConfirmOverwrite)
        return finish_path(path, chosen, filter) if path else None

    def ask_target(self, title: str, suggested: str, filter: str = SAVE_FILTER) -> Path | None:
        """The save dialog, then the question whether to replace an existing file."""
        path = self.ask_save_path(title, suggested, filter)
        return path if path is not None and self.confirm_target(path) else None

    def _is_original(self, path: Path) -> bool:
        doc = self.window.document
        src = doc.source if doc else None
        try:
            return src is not None and path.exists() and src.exists() and path.samefile(src)
        except OSError:
            return False

    def confirm_target(self, path: Path) -> bool:
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
        if self.window.video.active:
            return self.window.video.save_as()
        if doc.project_path is not None:
            return self.save_project()
        if doc.save_path is None:  # first save of an opened (or pasted) image: never onto the original
            return self.save_as()
        return self._save_document(doc.save_path)

    def save_as(self) -> bool:
        doc = self.window.document
        if doc is None:
            return False
        if self.window.video.active:  # a video is saved as a video, never as the frame shown
            return self.window.video.save_as()
        path = self.ask_target("Save as", self.suggest_path("" if doc.save_path else "-edited"))
        return path is not None and self._save_document(path)

    def _save_document(self, path: Path) -> bool:
        doc = self.window.document
        if not self.write(path, doc.picture):
            return False
        doc.mark_saved(path)
        doc.project_path = None  # the image file is the document's file now
        self.window.settings.add_recent(path)
        self.window.update_actions()
        return True

    def save_project(self) -> bool:
        doc = self.window.document
        if doc is not None and doc.project_path is not None:
            return self._write_project(doc.project_path)
        return self.save_project_as()

    def save_project_as(self) -> bool:
        doc = self.window.document
        if doc is None:
            return False
        suggested = str(doc.project_path) if doc.project_path else self.suggest_path("", PROJECT_SUFFIX)
        path = self.ask_target("Save project", suggested, PROJECT_FILTER)
        return path is not None and self._write_project(path)

    def _write_project(self, path: Path) -> bool:
        """Write image, mask, face box and history; the document is then saved in that file."""
        from studio.project import save_project

        w, doc = self.window, self.window.document
        w.status(f"Saving project to {path} …")
        try:
            run_off_ui_thread(save_project, path, doc.frozen(copy_pixels=w.runner.busy))
        except StudioError as e:
            w.status("")
            dialogs.show_error(w, "Cannot save the project", str(e))
            return False
        doc.project_path = path
        doc.mark_saved()
        doc.mark_mask_saved()
        w.settings.add_recent(path)
        w.update_actions()
        w.status(f"Saved project to {path}")
        return True

    def export(self) -> bool:
        """A copy in any format; the document keeps its own file and unsaved state."""
        doc = self.window.document
        if doc is None:
            return False
        path = self.ask_target("Export a copy", self.suggest_path("-export", ".jpg"))
        return path is not None and self.write(path, doc.picture, what="copy")

    def write(self, path: Path, picture, what: str = "image") -> bool:
        """Write picture to path (already confirmed); the outcome goes to the status bar or a dialog."""
        from studio.imageio import save_image

        w = self.window
        src = w.document.source
        original = self._is_original(path)  # the user said yes to replacing it in confirm_target
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
        """After a crash: offer the newest readable autosaved session left behind (Enter
        recovers). Unreadable ones are removed with a word in the status bar; nothing here
        may keep the window from starting."""
        w = self.window
        folders = w.autosaver.recoverable()
        for folder in folders:
            try:
                doc, info, note = read_session(folder)
                break
            except (StudioError, OSError, ValueError, KeyError) as e:
                w.status(f"An autosaved session could not be read ({e}); it was removed")
                remove_session(folder)
        else:
            return False
        name = info.get("name") if isinstance(info.get("name"), str) and info.get("name") else "image"
        steps = doc.history.position
        if not dialogs.ask_yes_no(w, "Recover unsaved work?",
                                  f"GAN Studio did not close properly last time. Recover the autosaved "
                                  f"{name} ({doc.size[0]}×{doc.size[1]}) with its mask and {steps} "
                                  f"step{'s' if steps != 1 else ''} to undo?",
                                  default_yes=True, yes="&Recover", no="&Discard"):
            for f in folders:
                remove_session(f)
            return False
        doc.untitled_name = f"{Path(name).stem} (recovered)"
        doc.mark_mask_saved(not doc.has_mask())
        w.set_document(doc)
        for f in folders:
            remove_session(f)
        where = f"Save writes it to {doc.project_path}" if doc.project_path else "save it with Save As or Save project"
        w.status(f"Recovered {name}; {where}"
                 + (f" ({note}: only the image and mask came back)" if note else ""))
        return True
