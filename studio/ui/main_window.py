"""The main window: canvas, tool panels, toolbar, menus and status bar, the history, compare
and jobs wired together; the file actions live in file_actions, the mask's in mask_actions.

Rules it keeps: image-changing work runs on the worker (JobRunner) and comes back as one
history step; while a job runs the image is left alone (undo of image steps, opening and
pasting wait), the mask can still be painted.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QLabel, QMainWindow, QProgressBar, QPushButton, QTabWidget, QToolBar,
                               QVBoxLayout, QWidget)

from studio import catalogue
from studio.editing.document import Change, Document
from studio.errors import StudioError
from studio.model_cache import ModelCache
from studio.ui import dialogs
from studio.ui.autosave import Autosaver
from studio.ui.canvas import Canvas
from studio.ui.file_actions import FileActions
from studio.ui.history_panel import HistoryPanel
from studio.ui.mask_actions import MaskActions
from studio.ui.preview import PreviewWidget
from studio.ui.settings import Settings, SettingsDialog
from studio.ui.shortcuts_dialog import show_shortcuts
from studio.ui.tool_panel import Panel
from studio.ui.variants import NEXT_KEY, PREVIOUS_KEY
from studio.ui.video_panel import VideoPanel
from studio.ui.worker import JobRunner, time_left

RESULT_MESSAGE_MS = 30_000  # how long "Filled with the face engine" stays in the status bar


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
        central = QWidget()
        central_layout = QVBoxLayout(central)
        central_layout.setContentsMargins(0, 0, 0, 0)
        central_layout.setSpacing(0)
        central_layout.addWidget(self.canvas, 1)
        self.setCentralWidget(central)
        self.canvas.zoomChanged.connect(self._show_zoom)
        self.canvas.maskEdited.connect(self._after_edit)
        self.canvas.fileDropped.connect(lambda p: self.files.open_path(Path(p)))

        self._build_panels()
        central_layout.addWidget(self.video.bar)  # scrub and play, shown while a video is open
        self.files = FileActions(self)
        self.masks = MaskActions(self)
        self._build_actions()
        self._build_toolbar()
        self._build_menus()
        self._build_status()

        self.runner.started.connect(self._job_started)
        self.runner.progress.connect(self._job_progress)
        # The running user job: whose engine previews the preview holds, and when it started (time left).
        self._job_id, self._job_tool, self._job_t0, self._job_f0 = None, None, None, 0.0
        self.runner.preview.connect(lambda rgb: self.show_preview(rgb, "Engine preview", self._job_tool, self._job_id))
        self.runner.ended.connect(self._job_ended)

        kwargs = {} if autosave_ms is None else {"interval_ms": autosave_ms}
        # A video's document is the frame on screen: recovering it as an image would mislead.
        self.autosaver = Autosaver(lambda: None if self.video.active else self.document, state_dir, parent=self,
                                   **kwargs)
        self.update_actions()
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
        self.panels: dict[str, Panel] = {t.name: t.panel_class()(t, self) for t in catalogue.TOOLS if t.gui}
        self.video = VideoPanel(catalogue.VIDEO, self)  # a tab too, though the video tool is not in TOOLS
        self.panels[catalogue.VIDEO.name] = self.video
        for panel in self.panels.values():
            self.tabs.addTab(panel, panel.tool.title)
        layout.addWidget(self.tabs, 1)
        self.preview = PreviewWidget()
        layout.addWidget(self.preview)
        dock.setWidget(body)
        dock.setMinimumWidth(360)  # room for the attribute sliders
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.tools_dock = dock
        self.history_panel = HistoryPanel(self)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.history_panel)  # below the tools

    def add_action(self, text: str, slot, shortcut=None, *, checkable: bool = False, tip: str = "") -> QAction:
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
        a = self.add_action
        self.act_settings = a("Se&ttings…", self.open_settings, "Ctrl+,")
        self.act_quit = a("&Quit", self.close, K.Quit)
        self.act_undo = a("&Undo", self.undo, K.Undo)
        self.act_redo = a("&Redo", self.redo, ["Ctrl+Shift+Z", "Ctrl+Y"])
        self.act_undo.setIconText("Undo")  # the name that stays while the text names the step
        self.act_redo.setIconText("Redo")
        # Plain + and - as in GIMP and Krita; a focused spin box or text field still takes them as text.
        self.act_zoom_in = a("Zoom &in", lambda: self.canvas.zoom_by(1.25), ["+", "=", "Ctrl++", "Ctrl+="])
        self.act_zoom_out = a("Zoom &out", lambda: self.canvas.zoom_by(0.8), ["-", "Ctrl+-"])
        self.act_fit = a("&Fit to window", self.canvas.fit, "Ctrl+0")
        self.act_100 = a("&100 %", self.canvas.actual_size, "Ctrl+1")
        self.act_compare = a("&Compare before/after", self.toggle_compare, "\\", checkable=True,
                             tip="Before (left of the line: the image before the last applied result) / "
                                 "after (right); drag to move the line")
        self.act_show_mask = a("Show &mask", self.canvas.set_mask_visible, "H", checkable=True)
        self.act_show_mask.setChecked(True)
        self.act_cancel = a("&Cancel job", self.cancel_job, "Esc")
        self.act_batch = a("&Batch…", self.open_batch, "Ctrl+B",
                           tip="Run a tool over a folder with its panel's settings")
        self.batch_dialog = None  # made on first use; keeps its folders for the session
        self.tool_actions = {name: a(p.tool.action, lambda _=False, n=name: self.run_tool(n), p.tool.shortcut or None)
                             for name, p in self.panels.items()}
        self.act_previous_variant = a("&Previous variant", lambda: self.flip_variant(-1), PREVIOUS_KEY,
                                      tip="Show the previous of a fill's variants in its place")
        self.act_next_variant = a("&Next variant", lambda: self.flip_variant(1), NEXT_KEY,
                                  tip="Show the next of a fill's variants in its place")
        for bar in self._variant_bars():
            bar.changed.connect(lambda _=False: self._update_variant_actions())
        self._update_variant_actions()
        self.act_models = a("&Models and about…", self.open_models)
        self.act_shortcuts = a("&Keyboard shortcuts", lambda: show_shortcuts(self), "Ctrl+/")

    def _build_toolbar(self) -> None:
        bar = QToolBar("Mask", self)
        bar.setObjectName("mask-toolbar")
        bar.setMovable(False)
        self.addToolBar(bar)
        masks = self.masks
        for act in masks.tool_actions.values():
            bar.addAction(act)
        bar.addSeparator()
        bar.addWidget(QLabel(" Size "))
        bar.addWidget(masks.size_spin)
        bar.addWidget(QLabel(" Hardness "))
        bar.addWidget(masks.hardness_spin)
        bar.addSeparator()
        for act in (self.act_show_mask, masks.act_clear_mask, masks.act_invert_mask):
            bar.addAction(act)
        bar.addSeparator()
        for act in (self.act_compare, self.act_fit, self.act_100):
            bar.addAction(act)

    def _build_menus(self) -> None:
        files, masks = self.files, self.masks
        m = self.menuBar().addMenu("&File")
        m.addAction(files.act_open)
        m.addAction(files.act_open_project)
        m.addMenu(files.recent_menu)
        m.addAction(files.act_paste)
        m.addSeparator()
        for act in (files.act_save, files.act_save_as, files.act_export, None, files.act_save_project,
                    files.act_save_project_as):
            m.addSeparator() if act is None else m.addAction(act)
        m.addSeparator()
        m.addAction(self.act_settings)
        m.addAction(self.act_quit)
        m = self.menuBar().addMenu("&Edit")
        for act in (self.act_undo, self.act_redo):
            m.addAction(act)
        m = self.menuBar().addMenu("&View")
        for act in (self.act_zoom_in, self.act_zoom_out, self.act_fit, self.act_100, None, self.act_compare,
                    self.act_show_mask, None, self.history_panel.toggleViewAction()):
            m.addSeparator() if act is None else m.addAction(act)
        m = self.menuBar().addMenu("&Mask")
        for act in (*masks.tool_actions.values(), None, masks.act_bigger, masks.act_smaller, None,
                    masks.act_clear_mask, masks.act_invert_mask, masks.act_clear_box, None, *masks.edge_actions,
                    masks.act_damage, None, masks.act_mask_color, masks.act_load_mask, masks.act_save_mask):
            m.addSeparator() if act is None else m.addAction(act)
        m = self.menuBar().addMenu("&Tools")
        for act in (*self.tool_actions.values(), self.act_previous_variant, self.act_next_variant, None,
                    self.act_batch, None, self.act_cancel):
            m.addSeparator() if act is None else m.addAction(act)
        m = self.menuBar().addMenu("&Help")
        m.addAction(self.act_shortcuts)
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

    def show_preview(self, rgb, caption: str, tool: str | None = None, job: int | None = None) -> None:
        """tool, job: what the preview belongs to (job None: the tool's panel made it)."""
        self.preview.show_array(rgb, caption, tool=tool, job=job)

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

    def update_actions(self) -> None:
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
        files, masks = self.files, self.masks
        for act in (files.act_save, files.act_save_as, files.act_export, files.act_save_project,
                    files.act_save_project_as, self.act_compare, masks.act_clear_mask,
                    masks.act_invert_mask, masks.act_save_mask, masks.act_load_mask, *masks.edge_actions,
                    masks.act_damage):
            act.setEnabled(has)
        if has:
            w, h_ = doc.size
            self.size_label.setText(f"{w}×{h_} px, {doc.bit_depth}-bit")
        else:
            self.size_label.setText("")
        self.video.update_actions()
        self._update_title()
        self.history_panel.refresh()

    def _after_edit(self) -> None:
        """Any change of the document (stroke, step, undo): refresh what depends on it."""
        if self.canvas.compare:
            self.act_compare.setChecked(False)
            self.canvas.set_compare(False)
        self.update_actions()

    # ================================================================ the document and its history
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
        self.refresh(change)
        for panel in self.panels.values():
            panel.follow_step(step, undo)
        self.status(f"{'Undid' if undo else 'Redid'}: {step.label}")

    def apply_step(self, step, message: str, tool: str = "") -> None:
        """Apply a finished result (one history step; None = nothing changed)."""
        shown = self.preview
        if shown.tool is not None and (shown.tool != tool or shown.job not in (None, self._job_id)):
            shown.clear()  # another tool's (or an earlier job's) preview would describe a result not shown
        if step is None or self.document is None:
            self.status(message, RESULT_MESSAGE_MS)
            return
        change = self.document.push(step)
        self.refresh(change)
        for panel in self.panels.values():
            panel.follow_step(step, None)
        if tool:
            self.resultApplied.emit(tool)
        self.status(message, RESULT_MESSAGE_MS)

    def replace_step(self, old, new, message: str) -> bool:
        """Show another variant of the last result in its place (Document.replace_step): still one
        undo step; a compare view stays on, now showing this variant."""
        doc = self.document
        if doc is None or doc.stroking:
            return False
        if self.runner.busy:
            self.status("Wait for the running job to finish (or cancel it with Esc) before choosing a variant")
            return False
        compare, split = self.canvas.compare, self.canvas.split_x
        self.refresh(doc.replace_step(old, new))
        for panel in self.panels.values():
            panel.follow_step(new, None)
        if compare:
            self.toggle_compare(True)
            self.canvas.set_split(split)
        self.status(message, RESULT_MESSAGE_MS)
        return True

    def _variant_bars(self):
        return [p.variants for p in self.panels.values() if getattr(p, "variants", None) is not None]

    def flip_variant(self, delta: int) -> None:
        """The keyboard's way to the variants bar: the bar showing (else it says there is none)."""
        bars = self._variant_bars()
        bar = next((b for b in bars if b.active), bars[0] if bars else None)
        if bar is not None:
            bar.flip(delta)

    def _update_variant_actions(self) -> None:
        active = any(bar.active for bar in self._variant_bars())
        self.act_previous_variant.setEnabled(active)
        self.act_next_variant.setEnabled(active)

    def set_document(self, doc: Document | None) -> None:
        """Show another image (opened, pasted, recovered) in place of the current one."""
        self.act_compare.setChecked(False)
        self.document = doc
        self.canvas.set_document(doc)
        for panel in self.panels.values():
            panel.document_changed()
        self.preview.clear()
        self.documentReplaced.emit()
        self.update_actions()

    def refresh(self, change: Change) -> None:
        """Show a change of the document (a step applied, undone or redone) everywhere it matters."""
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
        before, label = self.video.before_frame() if self.video.active else (doc.before_last_result(), "Before")
        if before is None:
            before, label = doc.quantized(), "Opened (nothing applied yet)"
        self.canvas.set_compare(True, before, label)
        self.act_compare.setChecked(True)
        what = "the original frame" if self.video.active else "the image before the last applied result"
        self.status(f"Compare: left of the line is {what}; drag to move the line, \\ to leave")

    # ================================================================ jobs
    def start_job(self, name: str, fn, on_result, *, latest: str | None = None) -> bool:
        """Run fn(job) on the worker; refuse (and say so) while another job runs. latest: a key
        under which a new request waits for the running one and replaces an older waiting one."""
        if self.runner.busy and not (latest is not None and self.runner.pending(latest)):
            self.status(f"Busy: {self.runner.current.name.lower()} is still running. Wait for it or cancel it "
                        "(Esc); the new job was not started.")
            return False

        def failed(error, details):
            self.show_job_error(f"{name} failed", error, details)

        def cancelled():
            self.status(f"{name} cancelled; the image was not changed")

        return self.runner.start(name, fn, on_result, on_error=failed, on_cancel=cancelled, latest=latest)

    def cancel_job(self) -> None:
        if self.runner.cancel():
            self.job_label.setText("Cancelling…")
            self.status("Cancelling…")
        elif self.canvas.compare:
            self.toggle_compare(False)

    def _job_started(self, name: str) -> None:
        task = self.runner.current
        self._job_id = task.id if task is not None else None
        self._job_tool = next((t.name for t in (*catalogue.TOOLS, catalogue.VIDEO) if t.job == name), name)
        self._job_t0, self._job_f0 = None, 0.0  # set by the first progress report
        if self.preview.tool is not None and self.preview.tool != self._job_tool:
            self.preview.clear()  # another tool's preview has nothing to do with this job
        self.job_label.setText(f"{name}…")
        self.job_bar.setValue(0)
        for w in (self.job_label, self.job_bar, self.cancel_button):
            w.show()

    def _job_progress(self, fraction: float, message: str) -> None:
        self.job_bar.setValue(int(fraction * 1000))
        name = self.runner.current.name if self.runner.current else ""
        text = f"{name}: {message}" if message else f"{name}…"
        if self._job_t0 is None or fraction <= self._job_f0:  # the clock starts when the share starts moving
            self._job_t0, self._job_f0 = time.monotonic(), fraction
        left = time_left(fraction, time.monotonic() - self._job_t0, self._job_f0)
        self.job_label.setText(f"{text} — {left}" if left else text)

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
            self.status(error.gui or str(error) if isinstance(error, StudioError) else f"Device check failed: {error}")

        def describe(job):
            from studio.devices import describe, pick_device  # imports torch: on the worker

            return describe(pick_device(device))

        self.runner.start("warm-up", describe, done, on_error=failed, background=True)

    # ================================================================ drops, close
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            self.files.open_path(Path(urls[0].toLocalFile()))

    def closeEvent(self, event) -> None:
        if self.ask_before_closing and not self.files.maybe_save_changes():
            event.ignore()
            return
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Stop the worker and drop the autosave (a clean exit leaves nothing to recover)."""
        self.runner.shutdown()
        self.autosaver.discard()
        self.video.close_video()  # its working copies

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

    def open_batch(self) -> None:
        from studio.ui.batch_dialog import BatchDialog

        if self.batch_dialog is None:
            self.batch_dialog = BatchDialog(self)
        if not self.batch_dialog.running:
            self.batch_dialog.choose_tool(self.tabs.currentWidget().tool.name)
        self.batch_dialog.show()
        self.batch_dialog.raise_()
        self.batch_dialog.activateWindow()

    def open_models(self) -> None:
        from studio.ui.models_dialog import ModelsDialog

        ModelsDialog(self).exec()
