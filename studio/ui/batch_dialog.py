"""Tools > Batch: run a tool over a folder with its panel's settings, as `studio TOOL DIR -o OUT` does.

Every tool panel with `options()` is offered: the generic panels' options, and the Face panel's
moved sliders as absolute values (as `studio edit --set` gives them), each file finding its own face.
The batch is one background job of the window: progress per file, a bad file recorded and
skipped, Cancel (Esc) stopping before the next file. Finished files stay; saves are atomic, so
no file is half-written. The open document is not touched.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QPlainTextEdit, QProgressBar, QPushButton, QVBoxLayout, QWidget)

from studio import batch, catalogue, commands
from studio import options as opt
from studio.errors import StudioError
from studio.jobs import Job

JOB_NAME = "Batch"


@dataclass
class Report:
    """What a batch did, filled in on the worker and read on the UI thread once it ended."""

    total: int
    done: list[tuple[str, list[str]]] = field(default_factory=list)  # file name, notes
    failed: list[tuple[str, str]] = field(default_factory=list)  # file name, one-line reason

    def text(self, outcome: str = "done") -> str:
        """outcome: "done", "cancelled" or "failed" (an error stopped the whole batch)."""
        ran = f"{len(self.done) + len(self.failed)} of {self.total} files"
        head = {"cancelled": f"Cancelled after {ran}; finished files are kept.",
                "failed": f"Stopped by an error after {ran}; finished files are kept."}.get(
            outcome, f"{len(self.done)} of {self.total} files done, {len(self.failed)} failed.")
        lines = [head]
        if self.failed:
            lines += ["", "Failed:"] + [f"  {name}: {why}" for name, why in self.failed]
        if self.done:
            lines += ["", "Done:"] + [f"  {name}" + (f" ({'; '.join(n.removeprefix('info: ') for n in notes)})"
                                                     if notes else "") for name, notes in self.done]
        return "\n".join(lines)


def summary(options, applies=lambda name: True) -> str:
    """The options a batch uses, in words: "engine auto, seed random, detail 50 %"."""
    parts = []
    for f in opt.fields(type(options)):
        s, value = opt.spec(f), getattr(options, f.name)
        if not s.gui or not applies(f.name):
            continue
        if value is None:
            text = s.none
        elif s.kind == "bool":
            text = "on" if value else "off"
        elif s.percent:
            text = f"{value * 100:.0f} %"
        else:
            text = f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(f"{opt.label(f).lower()} {text}")
    return ", ".join(parts) or "defaults"


def face_summary(options: catalogue.EditOptions) -> str:
    """The face edit in words: "Smiling +1.00, Eyeglasses -1.00; local transfer"."""
    changes = ", ".join(f"{name.replace('_', ' ')} {value:+.2f}" for name, value in options.changes)
    return f"{changes}; {options.transfer} transfer"


def run_batch(tool, engine_for, options, items: list[batch.Item], problems: list[str], output: Path,
              job: Job, report: Report) -> Report:
    """On the worker: every item through the engine; a StudioError fails that file only.
    `report` is filled as files finish, so a cancelled batch can still say what it did."""
    for p in problems:  # "PATH: why" from batch.plan (an image without its mask)
        path, _, why = p.partition(": ")
        report.failed.append((Path(path).name, why))
    n = len(items)
    job.progress(0.0, "loading the engine")
    engine = engine_for()
    if hasattr(engine, "check"):  # options only the loaded model can judge (attribute names)
        engine.check(options)
    batch.prepare_folder(output)
    for i, item in enumerate(items):
        head = f"{i + 1} of {n}: {item.inputs[0].name}"
        job.progress(i / n, head)  # the cancel point between files

        def forward(p, i=i, head=head):
            job.progress((i + p.fraction) / n, f"{head} — {p.message}" if p.message else head)

        try:
            notes = commands.process(tool, engine, options, item, Job(forward, job.token), single=False)
        except StudioError as e:
            report.failed.append((item.inputs[0].name, _said(e)))
        else:
            report.done.append((item.inputs[0].name, notes))
    job.progress(1.0, f"{n} of {n} files")
    return report


def _said(e: StudioError) -> str:
    return e.gui or str(e)  # the window's words where the message names CLI flags


def _folder_row(edit: QLineEdit, browse) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(edit, 1)
    button = QPushButton("Browse…")
    button.setAutoDefault(False)  # Enter in the folder fields is Run, not Browse
    button.clicked.connect(browse)
    layout.addWidget(button)
    return row


class BatchDialog(QDialog):
    def __init__(self, window):
        super().__init__(window)
        self.window_ = window
        self.setWindowTitle("Batch")
        self.resize(640, 520)
        self.report: Report | None = None
        self.running = False
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.tool = QComboBox()
        for name, panel in window.panels.items():
            if hasattr(panel, "options"):
                self.tool.addItem(panel.tool.title, name)
                (panel.form.changed if hasattr(panel, "form") else panel.changed).connect(self._panel_changed)
        self.tool.currentIndexChanged.connect(self.refresh)
        form.addRow("Tool:", self.tool)
        self.input, self.masks, self.output = QLineEdit(), QLineEdit(), QLineEdit()
        self.input.setPlaceholderText("the folder of images")
        self.masks.setPlaceholderText("masks paired by file name (a.jpg finds a.png)")
        self.output.setPlaceholderText("results under the same file names")
        self.input_row = _folder_row(self.input, lambda: self._browse(self.input, "Input folder"))
        self.mask_row = _folder_row(self.masks, lambda: self._browse(self.masks, "Mask folder"))
        self.output_row = _folder_row(self.output, lambda: self._browse(self.output, "Output folder"))
        form.addRow("Input folder:", self.input_row)
        form.addRow("Mask folder:", self.mask_row)
        form.addRow("Output folder:", self.output_row)
        layout.addLayout(form)
        self.settings_label = QLabel(wordWrap=True)
        layout.addWidget(self.settings_label)
        self.message = QLabel(wordWrap=True)
        layout.addWidget(self.message)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        layout.addWidget(self.bar)
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setPlaceholderText("The report of the batch shows here.")
        layout.addWidget(self.log, 1)
        self.buttons = QDialogButtonBox()
        self.run_button = self.buttons.addButton("&Run", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton("Cancel", QDialogButtonBox.ButtonRole.RejectRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.reject)
        self.close_button.clicked.connect(self.reject)
        layout.addWidget(self.buttons)
        self.run_button.setDefault(True)  # Enter in a folder field runs (set once the box is in the dialog)
        window.runner.progress.connect(self._progress)
        window.runner.ended.connect(self._ended)
        self.choose_tool(None)
        self._set_running(False)

    # ------------------------------------------------------------ choices
    def choose_tool(self, name: str | None) -> None:
        """Select this tool (the current tab's when it is offered), then show its settings."""
        index = self.tool.findData(name) if name is not None else -1
        if index >= 0:
            self.tool.setCurrentIndex(index)
        self.refresh()

    @property
    def panel(self):
        return self.window_.panel(self.tool.currentData())

    def _model(self) -> str | None:
        panel = self.panel  # the face panel has no model choice: None, the engine's own
        return (panel.model.currentText() or None) if hasattr(panel, "model") and panel.tool.architectures else None

    def _options(self):
        options = self.panel.options()
        # The open image's face box says nothing about other files: each file finds its own.
        return dataclasses.replace(options, box=None) if "box" in options.__dataclass_fields__ else options

    def refresh(self) -> None:
        """Show the mask folder only when the tool reads masks, and the panel's settings now."""
        panel = self.panel
        self.mask_row.setEnabled(panel.tool.mask)
        self.masks.setPlaceholderText("masks paired by file name (a.jpg finds a.png)" if panel.tool.mask
                                      else f"{panel.tool.title} reads no mask")
        try:
            options = self._options()
            text = (face_summary(options) if isinstance(options, catalogue.EditOptions)
                    else summary(options, panel.form.applies))
        except StudioError as e:  # nothing to run with yet: say what to do, not "Uses …"
            text = _said(e)
            self.settings_label.setText(text[:1].upper() + text[1:] + ".")
            return
        model = self._model()
        self.settings_label.setText(f"Uses the {panel.tool.title} panel's settings: {text}"
                                    + (f"; model {model}" if model else "") + ".")

    def _panel_changed(self, *_) -> None:
        if not self.running:  # a running batch keeps the settings it started with
            self.refresh()

    def _browse(self, edit: QLineEdit, title: str) -> None:
        folder = QFileDialog.getExistingDirectory(self, title, edit.text() or self.input.text())
        if folder:
            edit.setText(folder)

    # ------------------------------------------------------------ running
    def _plan(self):
        """(tool, items, problems, output), or a StudioError saying what to fix."""
        tool = self.panel.tool
        texts = [("input", self.input)] + ([("mask", self.masks)] if tool.mask else []) + [("output", self.output)]
        for what, edit in texts:
            if not edit.text().strip():
                raise StudioError(f"Choose the {what} folder")
        inputs = [Path(e.text().strip()).expanduser() for what, e in texts[:-1]]
        output = Path(self.output.text().strip()).expanduser()
        if not inputs[0].is_dir():
            raise StudioError(f"The input {inputs[0]} is not a folder")
        reason = catalogue.unavailable(tool, self._model())
        if reason:
            raise StudioError(reason)
        items, problems = batch.plan(inputs, output)
        batch.check_folder(output)
        return tool, items, problems, output

    def run(self) -> bool:
        if self.running:
            return False
        self.refresh()
        try:
            tool, items, problems, output = self._plan()
            options = self._options()
        except StudioError as e:
            text = _said(e)
            self.message.setText(text[:1].upper() + text[1:])
            return False
        cache, model, device = self.window_.cache, self._model(), self.window_.settings.device
        report = Report(len(items) + len(problems))

        def work(job):
            return run_batch(tool, lambda: cache.engine(tool.name, model, device), options, items, problems,
                             output, job, report)

        if not self.window_.start_job(JOB_NAME, work, self._finished):
            self.message.setText("Another job is running: wait for it or cancel it (Esc), then run the batch.")
            return False
        self.report = report
        self.log.clear()
        self.bar.setValue(0)
        self.message.setText(f"{tool.title}: {report.total} files from {self.input.text().strip()} to {output}")
        self._set_running(True)
        return True

    def _set_running(self, running: bool) -> None:
        self.running = running
        for w in (self.tool, self.input_row, self.output_row, self.run_button):
            w.setEnabled(not running)
        self.mask_row.setEnabled(not running and self.panel.tool.mask)
        self.cancel_button.setVisible(running)
        self.close_button.setVisible(not running)

    def _progress(self, fraction: float, message: str) -> None:
        if self.running:
            self.bar.setValue(int(fraction * 1000))
            self.message.setText(message)

    def _finished(self, report: Report) -> None:
        self._show_report(report, "done")

    def _ended(self, name: str, outcome: str) -> None:
        """Cancelled or failed as a whole (e.g. the model would not load); done goes to _finished."""
        if not self.running or name != JOB_NAME or outcome == "done":
            return
        self._show_report(self.report, outcome)  # on "failed" the window shows the error itself

    def _show_report(self, report: Report, outcome: str) -> None:
        self._set_running(False)
        text = report.text(outcome)
        self.message.setText(text.splitlines()[0])
        self.log.setPlainText(text)
        self.window_.status(f"Batch: {text.splitlines()[0]}")

    def reject(self) -> None:
        """Esc, Cancel or closing while the batch runs cancels it (before the next file); otherwise closes."""
        if self.running:
            self.window_.cancel_job()
            self.message.setText("Cancelling…")
            return
        super().reject()
