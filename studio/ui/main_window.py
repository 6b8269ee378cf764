"""The main window: canvas, tool panels, menus, status bar, files and jobs wired together.

Rules it keeps: image-changing work runs on the worker (JobRunner) and comes back as one
history step; while a job runs the image is left alone (undo of image steps, opening and
pasting wait), the mask can still be painted; the opened file is never overwritten without an
explicit yes (the first Save of an opened file is a Save As).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (QApplication, QDockWidget, QFileDialog, QLabel, QMainWindow, QProgressBar,
                               QPushButton, QSpinBox, QTabWidget, QToolBar, QVBoxLayout, QWidget)

from studio.editing.brush import Brush
from studio.editing.document import Change, Document
from studio.errors import StudioError
from studio.ui import dialogs
from studio.ui.autosave import Autosaver, read_session, remove_session
from studio.ui.busy_io import run_off_ui_thread
from studio.ui.canvas import Canvas
from studio.catalogue import TOOLS
from studio.model_cache import ModelCache
from studio.ui.preview import PreviewWidget
from studio.ui.settings import Settings, SettingsDialog
from studio.ui.tool_panel import Panel
from studio.ui.worker import JobRunner

OPEN_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp);;All files (*)"
SAVE_FILTER = "PNG (*.png);;JPEG (*.jpg *.jpeg);;WebP (*.webp);;TIFF (*.tif *.tiff);;BMP (*.bmp)"
BRUSH_STEP = 1.25
RESULT_MESSAGE_MS = 30_000  # how long "Filled with the face engine" stays in the status bar  # [ and ] change the brush size by this factor


class MainWindow(QMainWindow):
    documentReplaced = Signal()  # a new image (open, paste, recover) or a new size
    resultApplied = Signal(str)  # tool name of an applied result

    def __init__(self, settings: QSettings | None = None, state_dir: Path | None = None, *,
                 warm_up: bool = False, autosave_ms: int | None = None):
        super().__init__()
        self.settings = Settings(settings)
        self.settings.apply_models_dir()
        self.cache = ModelCache()
        self.runner = JobRunner(self)
        self.document: Document | None = None
        self.ask_before_closing = True
        self.device_text = self.settings.device
        self.setWindowTitle("GAN Studio")
        self.resize(1280, 820)
        self.setAcceptDrops(True)

        self.canvas = Canvas(self)
        self.setCentralWidget(self.canvas)
        self.canvas.zoomChanged.connect(self._show_zoom)
        self.canvas.maskEdited.connect(self._after_edit)
        self.canvas.boxChanged.connect(self._box_changed)
        self.canvas.fileDropped.connect(lambda p: self.open_path(Path(p)))

        self._build_panels()
        self._build_actions()
        self._build_toolbar()
        self._build_menus()
        self._build_status()

        self.runner.started.connect(self._job_started)
        self.runner.progress.connect(self._job_progress)
        self.runner.preview.connect(lambda rgb: self.show_preview(rgb, "Engine preview"))
        self.runner.ended.connect(self._job_ended)

        kwargs = {} if autosave_ms is None else {"interval_ms": autosave_ms}
        self.autosaver = Autosaver(lambda: self.document, state_dir, parent=self, **kwargs)
        self._update_actions()
        self.status("Open an image (Ctrl+O), drop one here or paste one (Ctrl+V)")
        if warm_up:
            QTimer.singleShot(0, self.warm_up)

    # ================================================================ building
    def _build_panels(self) -> None:
        dock = QDockWidget("Tools", self)
        dock.setObjectName("tools")
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        body = QWidget()
        layout = QVBoxLayout(body)
        self.tabs = QTabWidget()
        # One panel per tool of the catalogue, in its order; the generic one unless it names its own.
        self.panels: dict[str, Panel] = {t.name: t.panel_class()(t, self) for t in TOOLS if t.gui}
        for panel in self.panels.values():
            self.tabs.addTab(panel, panel.tool.title)
        layout.addWidget(self.tabs, 1)
        self.preview = PreviewWidget()
        layout.addWidget(self.preview)
        dock.setWidget(body)
        dock.setMinimumWidth(360)  # room for the attribute sliders
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.tools_dock = dock

    def _action(self, text: str, slot, shortcut=None, *, checkable: bool = False, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            keys = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(k) for k in keys])
        action.setCheckable(checkable)
        if tip:
            action.setToolTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work while the menus are closed
        return action

    def _build_actions(self) -> None:
        K = QKeySequence.StandardKey
        a = self._action
        self.act_open = a("&Open…", self.choose_file, K.Open)
        self.act_save = a("&Save", self.save, K.Save)
        self.act_save_as = a("Save &As…", self.save_as, "Ctrl+Shift+S")
        self.act_export = a("&Export a copy…", self.export, "Ctrl+E")
        self.act_paste = a("&Paste image", self.paste, K.Paste)
        self.act_settings = a("Se&ttings…", self.open_settings, "Ctrl+,")
        self.act_quit = a("&Quit", self.close, K.Quit)
        self.act_undo = a("&Undo", self.undo, K.Undo)
        self.act_redo = a("&Redo", self.redo, ["Ctrl+Shift+Z", "Ctrl+Y"])
        self.act_zoom_in = a("Zoom &in", lambda: self.canvas.zoom_by(1.25), ["Ctrl++", "Ctrl+="])
        self.act_zoom_out = a("Zoom &out", lambda: self.canvas.zoom_by(0.8), "Ctrl+-")
        self.act_fit = a("&Fit to window", self.canvas.fit, "Ctrl+0")
        self.act_100 = a("&100 %", self.canvas.actual_size, "Ctrl+1")
        self.act_compare = a("&Compare before/after", self.toggle_compare, "\\", checkable=True,
                             tip="Before (left of the line: the image before the last applied result) / "
                                 "after (right); drag to move the line")
        self.act_show_mask = a("Show &mask", self.canvas.set_mask_visible, "H", checkable=True)
        self.act_show_mask.setChecked(True)
        self.act_brush = a("&Brush", lambda: self.set_tool("brush"), "B", checkable=True,
                           tip="Paint the mask (B); the right button erases")
        self.act_eraser = a("&Eraser", self.toggle_eraser, "E", checkable=True, tip="Erase the mask (E toggles)")
        self.act_box = a("Face bo&x", lambda: self.set_tool("box"), "F", checkable=True,
                         tip="Drag a square around a face (F): used by face inpainting and face editing")
        group = QActionGroup(self)
        for act in (self.act_brush, self.act_eraser, self.act_box):
            group.addAction(act)
        self.act_brush.setChecked(True)
        self.act_bigger = a("Bigger brush", lambda: self.resize_brush(BRUSH_STEP), "]")
        self.act_smaller = a("Smaller brush", lambda: self.resize_brush(1 / BRUSH_STEP), "[")
        self.act_clear_mask = a("&Clear mask", self.clear_mask, "Ctrl+D")
        self.act_invert_mask = a("&Invert mask", self.invert_mask, "Ctrl+I")
        self.act_clear_box = a("Clear face box", lambda: self.canvas.set_box(None))
        self.act_load_mask = a("&Load mask…", lambda: self.load_mask())
        self.act_save_mask = a("E&xport mask…", self.export_mask)
        self.act_cancel = a("&Cancel job", self.cancel_job, "Esc")
        self.tool_actions = {name: a(p.tool.action, lambda _=False, n=name: self.run_tool(n), p.tool.shortcut or None)
                             for name, p in self.panels.items()}
        self.act_models = a("&Models and about…", self.open_models)

    def _build_toolbar(self) -> None:
        bar = QToolBar("Mask", self)
        bar.setObjectName("mask-toolbar")
        bar.setMovable(False)
        self.addToolBar(bar)
        for act in (self.act_brush, self.act_eraser, self.act_box):
            bar.addAction(act)
        bar.addSeparator()
        bar.addWidget(QLabel(" Size "))
        self.size_spin = QSpinBox(minimum=1, maximum=2000, suffix=" px")
        self.size_spin.setToolTip("Brush radius in image pixels ([ and ] change it)")
        self.size_spin.setValue(int(self.canvas.brush.radius))
        self.size_spin.valueChanged.connect(lambda v: self._set_brush(radius=float(v)))
        bar.addWidget(self.size_spin)
        bar.addWidget(QLabel(" Hardness "))
        self.hardness_spin = QSpinBox(minimum=0, maximum=100, suffix=" %")
        self.hardness_spin.setToolTip("100 % = hard edge; lower feathers the edge")
        self.hardness_spin.setValue(int(round(self.canvas.brush.hardness * 100)))
        self.hardness_spin.valueChanged.connect(lambda v: self._set_brush(hardness=v / 100))
        bar.addWidget(self.hardness_spin)
        bar.addSeparator()
        for act in (self.act_show_mask, self.act_clear_mask, self.act_invert_mask):
            bar.addAction(act)
        bar.addSeparator()
        for act in (self.act_compare, self.act_fit, self.act_100):
            bar.addAction(act)

    def _build_menus(self) -> None:
        m = self.menuBar().addMenu("&File")
        m.addAction(self.act_open)
        self.recent_menu = m.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        m.addAction(self.act_paste)
        m.addSeparator()
        for act in (self.act_save, self.act_save_as, self.act_export):
            m.addAction(act)
        m.addSeparator()
        m.addAction(self.act_settings)
        m.addAction(self.act_quit)
        m = self.menuBar().addMenu("&Edit")
        for act in (self.act_undo, self.act_redo):
            m.addAction(act)
        m = self.menuBar().addMenu("&View")
        for act in (self.act_zoom_in, self.act_zoom_out, self.act_fit, self.act_100, None, self.act_compare,
                    self.act_show_mask):
            m.addSeparator() if act is None else m.addAction(act)
        m = self.menuBar().addMenu("&Mask")
        for act in (self.act_brush, self.act_eraser, self.act_box, None, self.act_bigger, self.act_smaller, None,
                    self.act_clear_mask, self.act_invert_mask, self.act_clear_box, None, self.act_load_mask,
                    self.act_save_mask):
            m.addSeparator() if act is None else m.addAction(act)
        m = self.menuBar().addMenu("&Tools")
        for act in (*self.tool_actions.values(), None, self.act_cancel):
            m.addSeparator() if act is None else m.addAction(act)
        m = self.menuBar().addMenu("&Help")
        m.addAction(self.act_models)

    def _build_status(self) -> None:
        bar = self.statusBar()
        self.job_label = QLabel()
        self.job_bar = QProgressBar()
        self.job_bar.setRange(0, 1000)
        self.job_bar.setFixedWidth(180)
        self.job_bar.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running job (Esc)")
        self.cancel_button.clicked.connect(self.cancel_job)
        self.size_label = QLabel()
        self.zoom_label = QLabel()
        self.device_label = QLabel()
        for w in (self.job_label, self.job_bar, self.cancel_button):
            bar.addPermanentWidget(w)
            w.hide()
        for w in (self.size_label, self.zoom_label, self.device_label):
            bar.addPermanentWidget(w)
        self._show_device()

    # ================================================================ small helpers
    def status(self, text: str, ms: int = 8000) -> None:
        self.statusBar().showMessage(text, ms)

    def show_preview(self, rgb, caption: str) -> None:
        self.preview.show_array(rgb, caption)

    def clear_preview(self) -> None:
        self.preview.clear()

    def show_face_box(self, box) -> None:
        """Show a face box a tool found (unless the user drew one)."""
        if self.document is not None and self.document.face_box is None:
            self.canvas.set_box(box)

    def panel(self, tool: str) -> Panel:
        return self.panels[tool]

    def show_job_error(self, title: str, error: BaseException, details: str = "") -> None:
        dialogs.show_exception(self, title, error, details)

    def _show_zoom(self, z: float) -> None:
        self.zoom_label.setText(f"{z * 100:.0f} %")

    def _show_device(self) -> None:
        self.device_label.setText(f"Device: {self.device_text}")

    def run_tool(self, tool: str) -> bool:
        """The tool's menu action: show its panel and run it."""
        panel = self.panels[tool]
        self.tabs.setCurrentWidget(panel)
        return panel.run()

    def _update_title(self) -> None:
        doc = self.document
        self.setWindowTitle(f"{doc.name}[*] — GAN Studio" if doc else "GAN Studio")
        self.setWindowModified(bool(doc and doc.dirty))

    def _update_actions(self) -> None:
        doc = self.document
        has = doc is not None
        h = doc.history if has else None
        self.act_undo.setEnabled(bool(has and h.can_undo()))
        self.act_redo.setEnabled(bool(has and h.can_redo()))
        if has and h.can_undo():
            self.act_undo.setText(f"&Undo {h.next_undo().label}")
        else:
            self.act_undo.setText("&Undo")
        self.act_redo.setText(f"&Redo {h.next_redo().label}" if has and h.can_redo() else "&Redo")
        for act in (self.act_save, self.act_save_as, self.act_export, self.act_compare, self.act_clear_mask,
                    self.act_invert_mask, self.act_save_mask, self.act_load_mask):
            act.setEnabled(has)
        if has:
            w, h_ = doc.size
            self.size_label.setText(f"{w}×{h_} px, {doc.bit_depth}-bit")
        else:
            self.size_label.setText("")
        self._update_title()

    def _after_edit(self) -> None:
        """Any change of the document (stroke, step, undo): refresh what depends on it."""
        if self.canvas.compare:
            self.act_compare.setChecked(False)
            self.canvas.set_compare(False)
        self._update_actions()

    # ================================================================ tools and brush
    def set_tool(self, tool: str) -> None:
        self.canvas.set_tool(tool)
        {"brush": self.act_brush, "eraser": self.act_eraser, "box": self.act_box}[tool].setChecked(True)
        if tool == "box":
            self.status("Drag a square around the face")

    def toggle_eraser(self) -> None:
        self.set_tool("brush" if self.canvas.tool == "eraser" else "eraser")

    def _set_brush(self, radius: float | None = None, hardness: float | None = None) -> None:
        b = self.canvas.brush
        self.canvas.set_brush(Brush(b.radius if radius is None else radius, b.hardness if hardness is None else hardness))

    def resize_brush(self, factor: float) -> None:
        new = self.canvas.brush.resized(factor)
        r = int(round(new.radius))
        if r == int(self.canvas.brush.radius):  # small brushes still change by at least a pixel
            r += 1 if factor > 1 else -1
        self.size_spin.setValue(max(1, r))

    def _box_changed(self, box) -> None:
        if box is None:
            self.status("Face box cleared")
        else:
            x, y, w, h = box
            self.status(f"Face box {w}×{h} at {x},{y}: face inpainting and face editing use it")

    def clear_mask(self) -> None:
        import numpy as np

        change = self.document and self.document.set_mask(np.zeros_like(self.document.mask), "Clear mask")
        if change:
            self._refresh(change)

    def invert_mask(self) -> None:
        change = self.document and self.document.set_mask(255 - self.document.mask, "Invert mask")
        if change:
            self._refresh(change)

    def load_mask(self, path: str | Path | None = None) -> None:
        import numpy as np

        from studio.imageio import load_mask

        if self.document is None:
            return
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Load mask (white = fill)", "", OPEN_FILTER)
        if not path:
            return
        try:
            mask, resized = load_mask(path, self.document.size)
        except StudioError as e:
            dialogs.show_error(self, "Cannot load the mask", str(e))
            return
        change = self.document.set_mask(np.round(mask * 255).astype(np.uint8), "Load mask")
        if change:
            self._refresh(change)
        if resized:
            self.status("The mask had another size; it was rescaled to the image")

    def export_mask(self) -> None:
        import numpy as np

        from studio.imageio import Picture

        doc = self.document
        if doc is None:
            return
        path = self.ask_save_path("Export mask", self._suggest("-mask", ".png"))
        if path is None:
            return
        grey = np.repeat((doc.mask.astype(np.float32) / 255)[..., None], 3, axis=2)
        self._write(path, Picture(rgb=grey, was_gray=True), what="mask")

    # ================================================================ history
    def undo(self) -> None:
        self._step_history(undo=True)

    def redo(self) -> None:
        self._step_history(undo=False)

    def _step_history(self, undo: bool) -> None:
        doc = self.document
        if doc is None or doc.stroking:
            return
        step = doc.history.next_undo() if undo else doc.history.next_redo()
        if step is None:
            self.status("Nothing to undo" if undo else "Nothing to redo")
            return
        if step.changes_image and self.runner.busy:
            self.status("Wait for the running job to finish (or cancel it with Esc) before undoing image changes")
            return
        done = doc.undo() if undo else doc.redo()
        step, change = done
        self._refresh(change)
        for panel in self.panels.values():
            panel.follow_step(step, undo)
        self.status(f"{'Undid' if undo else 'Redid'}: {step.label}")

    def apply_step(self, step, message: str, tool: str = "") -> None:
        """Apply a finished result (one history step; None = nothing changed)."""
        if step is None or self.document is None:
            self.status(message, RESULT_MESSAGE_MS)
            return
        change = self.document.push(step)
        self._refresh(change)
        for panel in self.panels.values():
            panel.follow_step(step, None)
        if tool:
            self.resultApplied.emit(tool)
        self.status(message, RESULT_MESSAGE_MS)

    def _refresh(self, change: Change) -> None:
        self.canvas.refresh(change)
        if change.resized:
            for panel in self.panels.values():
                panel.document_changed()
            self.documentReplaced.emit()
        self._after_edit()

    def toggle_compare(self, on: bool | None = None) -> None:
        if on is None:
            on = not self.canvas.compare
        doc = self.document
        if doc is None or not on:
            self.canvas.set_compare(False)
            self.act_compare.setChecked(False)
            return
        before = doc.before_last_result()
        label = "Before"
        if before is None:
            before, label = doc.quantized(), "Opened (nothing applied yet)"
        self.canvas.set_compare(True, before, label)
        self.act_compare.setChecked(True)
        self.status("Compare: left of the line is the image before the last applied result; drag to move the line, "
                    "\\ to leave")

    # ================================================================ jobs
    def start_job(self, name: str, fn, on_result, *, on_end=None, latest: str | None = None) -> bool:
        """Run fn(job) on the worker; refuse (and say so) while another job runs. latest: a key
        under which a new request waits for the running one and replaces an older waiting one."""
        if self.runner.busy and not (latest is not None and self.runner.pending(latest)):
            self.status(f"Busy: {self.runner.current.name.lower()} is still running. Wait for it or cancel it "
                        "(Esc); the new job was not started.")
            return False

        def finish(callback, *args):
            try:
                if callback:
                    callback(*args)
            finally:
                if on_end:
                    on_end()

        def failed(error, details):
            finish(lambda: self.show_job_error(f"{name} failed", error, details))

        def cancelled():
            finish(lambda: self.status(f"{name} cancelled; the image was not changed"))

        return self.runner.start(name, fn, lambda r: finish(on_result, r), on_error=failed, on_cancel=cancelled,
                                 latest=latest)

    def cancel_job(self) -> None:
        if self.runner.cancel():
            self.job_label.setText("Cancelling…")
            self.status("Cancelling…")
        elif self.canvas.compare:
            self.toggle_compare(False)

    def _job_started(self, name: str) -> None:
        self.job_label.setText(f"{name}…")
        self.job_bar.setValue(0)
        for w in (self.job_label, self.job_bar, self.cancel_button):
            w.show()

    def _job_progress(self, fraction: float, message: str) -> None:
        self.job_bar.setValue(int(fraction * 1000))
        name = self.runner.current.name if self.runner.current else ""
        self.job_label.setText(f"{name}: {message}" if message else f"{name}…")

    def _job_ended(self, name: str, outcome: str) -> None:
        for w in (self.job_label, self.job_bar, self.cancel_button):
            w.hide()

    def warm_up(self) -> None:
        """Load torch and resolve the device in the background, after the window is up."""
        device = self.settings.device

        def done(text):
            self.device_text = text
            self._show_device()

        def failed(error, details):
            self.device_text = f"{device} (unavailable)"
            self._show_device()
            self.status(str(error) if isinstance(error, StudioError) else f"Device check failed: {error}")

        def describe(job):
            from studio.devices import describe, pick_device  # imports torch: on the worker

            return describe(pick_device(device))

        self.runner.start("warm-up", describe, done, on_error=failed, background=True)

    # ================================================================ files
    def _can_replace_document(self) -> bool:
        if self.runner.busy:
            self.status("Wait for the running job to finish (or cancel it with Esc) first")
            return False
        return self.maybe_save_changes()

    def maybe_save_changes(self) -> bool:
        """True when the current image may be closed (saved, discarded or unchanged)."""
        doc = self.document
        if doc is None or not doc.dirty:
            return True
        answer = dialogs.ask_save_changes(self, doc.name)
        if answer == dialogs.SAVE:
            return self.save()
        return answer == dialogs.DISCARD

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", self._last_folder(), OPEN_FILTER)
        if path:
            self.open_path(Path(path))

    def _last_folder(self) -> str:
        recent = self.settings.recent
        return str(Path(recent[0]).parent) if recent else ""

    def open_path(self, path: Path) -> bool:
        from studio.imageio import load_image

        if not self._can_replace_document():
            return False
        self.status(f"Opening {path} …")
        try:
            picture = run_off_ui_thread(load_image, path)
        except StudioError as e:
            self.status("")
            dialogs.show_error(self, "Cannot open image", str(e))
            return False
        except MemoryError:
            self.status("")
            dialogs.show_error(self, "Cannot open image", f"Not enough memory to open {path}.")
            return False
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self._set_document(Document(picture, source=Path(path)))
        finally:
            QApplication.restoreOverrideCursor()
        self.settings.add_recent(path)
        w, h = picture.size
        self.status(f"Opened {path}  ({w}×{h}, {picture.bit_depth}-bit)")
        return True

    def _set_document(self, doc: Document | None) -> None:
        self.act_compare.setChecked(False)
        self.document = doc
        self.canvas.set_document(doc)
        for panel in self.panels.values():
            panel.document_changed()
        self.preview.clear()
        self.documentReplaced.emit()
        self._update_actions()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.settings.recent:
            self.recent_menu.addAction(p, lambda p=p: self.open_path(Path(p)))
        if not self.settings.recent:
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
            self.status("The clipboard holds no image")
            return False
        if not self._can_replace_document():
            return False
        rgb, alpha = qimage_to_arrays(image)
        self._set_document(Document(Picture(rgb=rgb, alpha=alpha)))
        self.status(f"Pasted a {image.width()}×{image.height()} image")
        return True

    def _suggest(self, tail: str, suffix: str | None = None) -> str:
        doc = self.document
        base = doc.save_path or doc.source
        if base is None:
            return str(Path.home() / f"untitled{tail}{suffix or '.png'}")
        stem = base.stem if doc.save_path else base.stem + tail
        return str(base.with_name(stem + (suffix or base.suffix)))

    def ask_save_path(self, title: str, suggested: str, filter: str = SAVE_FILTER) -> Path | None:
        """The file dialog (tests replace this). Overwriting is confirmed by _confirm_target."""
        path, _ = QFileDialog.getSaveFileName(self, title, suggested, filter,
                                              options=QFileDialog.Option.DontConfirmOverwrite)
        if not path:
            return None
        path = Path(path)
        return path if path.suffix else path.with_suffix(".png")

    def _is_original(self, path: Path) -> bool:
        src = self.document.source if self.document else None
        try:
            return src is not None and path.exists() and src.exists() and path.samefile(src)
        except OSError:
            return False

    def _confirm_target(self, path: Path) -> bool:
        if self._is_original(path):
            return dialogs.ask_yes_no(self, "Replace the original?",
                                      f"{path.name} is the original photo you opened. Replace it with the edited "
                                      "image? The original pixels will be gone.")
        if path.exists():
            return dialogs.ask_yes_no(self, "Replace file?", f"{path.name} already exists. Replace it?")
        return True

    def save(self) -> bool:
        doc = self.document
        if doc is None:
            return False
        if doc.save_path is None:  # first save of an opened (or pasted) image: never onto the original
            return self.save_as()
        return self._save_document(doc.save_path)

    def save_as(self) -> bool:
        if self.document is None:
            return False
        path = self.ask_save_path("Save as", self._suggest("-edited"))
        if path is None or not self._confirm_target(path):
            return False
        return self._save_document(path)

    def _save_document(self, path: Path) -> bool:
        doc = self.document
        if not self._write(path, doc.picture):
            return False
        doc.mark_saved(path)
        self.settings.add_recent(path)
        self._update_actions()
        return True

    def export(self) -> bool:
        """A copy in any format; the document keeps its own file and unsaved state."""
        if self.document is None:
            return False
        path = self.ask_save_path("Export a copy", self._suggest("-export", ".jpg"))
        if path is None or not self._confirm_target(path):
            return False
        return self._write(path, self.document.picture, what="copy")

    def _write(self, path: Path, picture, what: str = "image") -> bool:
        from studio.imageio import save_image

        src = self.document.source
        original = self._is_original(path)  # the user said yes to replacing it in _confirm_target
        self.status(f"Saving {what} to {path} …")
        if self.runner.busy:  # a job finishing during the write may patch the image in place
            picture = dataclasses.replace(picture, rgb=picture.rgb.copy())
        try:
            notes = run_off_ui_thread(save_image, path, picture, overwrite=True, protect=[src] if src else [],
                                      overwrite_input=original)
        except StudioError as e:
            self.status("")
            dialogs.show_error(self, "Cannot save", str(e))
            return False
        self.status(f"Saved {what} to {path}" + ("; note: " + "; ".join(notes) if notes else ""))
        return True

    # ================================================================ drops, close
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            self.open_path(Path(urls[0].toLocalFile()))

    def closeEvent(self, event) -> None:
        if self.ask_before_closing and not self.maybe_save_changes():
            event.ignore()
            return
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Stop the worker and drop the autosave (a clean exit leaves nothing to recover)."""
        self.runner.shutdown()
        self.autosaver.discard()

    # ================================================================ dialogs
    def open_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self)
        if dialog.exec():
            old = (self.settings.device, self.settings.models_dir)
            dialog.save()
            if (self.settings.device, self.settings.models_dir) != old:
                self.settings_changed()

    def settings_changed(self) -> None:
        """Device or models folder changed: rebuild engines on next use, re-read installed models."""
        self.cache.clear()
        self.device_text = self.settings.device
        self._show_device()
        for panel in self.panels.values():
            panel.refresh()
        self.warm_up()

    def open_models(self) -> None:
        from studio.ui.models_dialog import ModelsDialog

        ModelsDialog(self).exec()

    def offer_recovery(self) -> bool:
        """After a crash: offer the newest autosaved session left behind."""
        folders = self.autosaver.recoverable()
        if not folders:
            return False
        folder = folders[0]
        try:
            picture, mask, info = read_session(folder)
        except (StudioError, OSError, ValueError, KeyError) as e:
            self.status(f"An autosaved session could not be read ({e}); it was removed")
            remove_session(folder)
            return False
        if not dialogs.ask_yes_no(self, "Recover unsaved work?",
                                  f"GAN Studio did not close properly last time. Recover the autosaved "
                                  f"{info.get('name', 'image')} ({picture.size[0]}×{picture.size[1]}) "
                                  "with its mask?"):
            for f in folders:
                remove_session(f)
            return False
        doc = Document(picture)
        doc.mask[:] = mask
        doc.untitled_name = f"{Path(info.get('name') or 'image').stem} (recovered)"
        self._set_document(doc)
        for f in folders:
            remove_session(f)
        self.status(f"Recovered {info.get('name', 'the image')}; save it with Save As")
        return True
