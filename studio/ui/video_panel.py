"""The Video tab: a video opened as a document whose picture is the frame on screen.

Scrubbing or playing replaces the picture's pixels (no history); the mask is the document's,
so the brush, rectangle, lasso, select and Load mask work as on a photo, and one mask serves
the whole clip (or follows its object from the frame it was painted on). A run goes through
video/command.process on the worker into a lossless working copy in a temporary folder (a
cancel leaves nothing: write_video removes its temporary file); its history step carries no
image pixels, only the result's id in `tag` (and the mask it clears, as the image tools do), so
undo and redo switch which copy is shown. Save As
encodes the shown result at the chosen quality with write_video (atomic, audio copied).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image
from PySide6.QtWidgets import QCheckBox, QFormLayout, QPushButton, QVBoxLayout, QWidget

from studio import batch
from studio.catalogue import Tool
from studio.editing import history as hist
from studio.editing.document import Change, Document
from studio.editing.history import Step
from studio.errors import StudioError
from studio.ui import dialogs
from studio.ui.busy_io import run_off_ui_thread
from studio.ui.options_form import OptionsForm
from studio.ui.tool_panel import hint
from studio.ui.video_player import VideoBar
from studio.video.io import CONTAINERS, VIDEO_EXTS

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow

VIDEO_PATTERNS = " ".join(f"*{e}" for e in VIDEO_EXTS if e != ".gif")  # a GIF opens as an image
SAVE_VIDEO_FILTER = "MP4 (*.mp4 *.m4v);;QuickTime (*.mov);;Matroska (*.mkv)"
WORKING_CRF = 0  # the working copy is lossless: Save As encodes once, at the quality chosen


def is_video(path: Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTS and Path(path).suffix.lower() != ".gif"


class VideoPanel(QWidget):
    def __init__(self, tool: Tool, host: MainWindow, parent=None):
        super().__init__(parent)
        self.tool, self.host = tool, host
        self.doc: Document | None = None
        self.original = None  # FrameSource of the opened file
        self.result = None  # FrameSource of the result the history is at (None: the original shows)
        self._results: dict[int, object] = {}  # step uid -> FrameSource of its working copy
        self._workdir: Path | None = None
        self._runs = 0
        layout = QVBoxLayout(self)
        layout.addWidget(hint("Open a video (File > Open), paint what to remove on any frame, then run. "
                              "The bar under the picture scrubs and plays; Compare shows the original frame."))
        self.info_label = hint("No video open")
        layout.addWidget(self.info_label)
        self.form = OptionsForm(tool.options)
        form_layout = self.form.layout()
        assert isinstance(form_layout, QFormLayout)
        form_layout.setRowVisible(self.form.controls["key_frame"], False)  # the checkbox below says it
        self.form.restore(host.settings.tool_values(tool.name))
        self.form.changed.connect(self._remember)
        layout.addWidget(self.form)
        self.follow = QCheckBox("Mask follows its object from the frame shown")
        self.follow.setToolTip("Track the painted object (a sign, a logo on a moving camera) from the frame on "
                               "screen through the clip; off: the same mask on every frame")
        layout.addWidget(self.follow)
        self.run_button = QPushButton(tool.action.replace("&", ""))
        self.run_button.clicked.connect(self.run)
        layout.addWidget(self.run_button)
        layout.addStretch(1)
        self.bar = VideoBar()
        self.bar.hide()
        self.bar.frameChanged.connect(self.show_frame)

    def _remember(self, name: str) -> None:
        values = self.host.settings.tool_values(self.tool.name)
        self.host.settings.set_tool_values(self.tool.name, {**values, name: self.form.value(name)})

    @property
    def active(self) -> bool:
        return self.doc is not None and self.host.document is self.doc

    # ------------------------------------------------------------ opening and showing
    def open(self, path: Path) -> bool:
        """Open a video as the document (the caller asked about unsaved work)."""
        from studio.imageio import Picture
        from studio.video.frames import FrameSource

        w = self.host
        w.status(f"Opening {path} …")
        source = None
        try:
            source = run_off_ui_thread(FrameSource, path)
            first = run_off_ui_thread(source.frame, 0)
        except StudioError as e:
            if source is not None:
                source.close()
            w.status("")
            dialogs.show_error(w, "Cannot open video", e.gui or str(e))
            return False
        doc = Document(Picture(first.astype(np.float32) / 255.0, source=Path(path)), source=Path(path))
        self.close_video()  # the video open before, if any
        self.doc = doc  # before set_document, so document_changed keeps it
        w.set_document(doc)
        self.original = source
        self._workdir = Path(tempfile.mkdtemp(prefix="ganstudio-video-"))
        info = source.info
        self.bar.set_clip(len(source), float(info.fps), source.time)
        self.bar.show()
        audio = f", audio {info.audio} (kept)" if info.audio else ", no audio"
        self.info_label.setText(f"{Path(path).name}: {info.size[0]}×{info.size[1]}, {len(source)} frames at "
                                f"{float(info.fps):.3g} fps{audio}")
        w.tabs.setCurrentWidget(self)
        w.settings.add_recent(path)
        w.update_actions()
        w.status(f"Opened {path}: scrub with the bar below the picture, paint the mask on any frame")
        return True

    def close_video(self) -> None:
        """Forget the open video and remove its working copies."""
        self.bar.play(False)
        self.bar.hide()
        for source in (self.original, *self._results.values()):
            if source is not None:
                source.close()
        self.original, self.result, self._results, self.doc = None, None, {}, None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        self.info_label.setText("No video open")

    def shown_source(self):
        return self.result or self.original

    def show_frame(self, i: int) -> None:
        """Put frame i of what is shown (the result, else the original) on the canvas."""
        if not self.active:
            return
        try:
            rgb = self.shown_source().frame(i)
        except StudioError as e:
            self.bar.play(False)
            self.host.status(e.gui or str(e))
            return
        np.multiply(rgb, np.float32(1 / 255), out=self.doc.picture.rgb, casting="unsafe")
        canvas = self.host.canvas
        canvas.refresh(Change(image=None))
        if canvas.compare:
            split = canvas.split_x
            canvas.set_compare(True, *self.before_frame())
            canvas.set_split(split)

    def before_frame(self) -> tuple[np.ndarray, str]:
        """The original of the frame shown, and its label, for Compare."""
        label = "Original" if self.result is not None else "Original (nothing applied yet)"
        return self.original.frame(self.bar.index), label

    # ------------------------------------------------------------ the panel protocol
    def refresh(self) -> None:
        """Nothing installed to re-read: the photo engine is looked up when a run starts."""

    def document_changed(self) -> None:
        if self.doc is not None and self.host.document is not self.doc:
            self.close_video()  # another image or video replaced this one

    def follow_step(self, step, undo: bool | None = None) -> None:
        """A result applied, undone or redone: show the result the history is now at."""
        if not self.active:
            return
        h = self.doc.history
        done = [s for s in h.steps[:h.position] if s.tag and "video" in s.tag]
        self.result = self._results.get(done[-1].tag["video"]) if done else None
        self.show_frame(self.bar.index)

    def update_actions(self) -> None:
        """While a video is open the image tools and projects do not apply to it."""
        w, on = self.host, self.active
        for i in range(w.tabs.count()):
            w.tabs.setTabEnabled(i, not on or w.tabs.widget(i) is self)
        for name, act in w.tool_actions.items():
            act.setEnabled(not on or name == self.tool.name)
        if on:
            for act in (w.files.act_save_project, w.files.act_save_project_as):
                act.setEnabled(False)

    # ------------------------------------------------------------ running
    def options(self):
        return self.form.options(key_frame=self.bar.index if self.follow.isChecked() else None)

    def run(self) -> bool:
        from studio.video.command import process
        from studio.video.frames import FrameSource

        w = self.host
        if not self.active:
            w.status("Open a video first (File > Open)")
            return False
        if not self.doc.has_mask():
            w.status("Paint what to remove first (left mouse button on the picture), or load a mask")
            return False
        try:
            options = self.options()
            w.cache.engine(self.tool.name, None, w.settings.device).check(options)
        except StudioError as e:
            w.status(e.gui or str(e))
            return False
        self._runs += 1
        run = self._runs
        mask_path = self._workdir / f"mask-{run}.png"
        Image.fromarray(self.doc.mask).save(mask_path)  # the mask as it is now: painting may go on
        out = self._workdir / f"result-{run}.mp4"
        item = batch.Item((self.original.info.path, mask_path), out)
        engine_options = dataclasses.replace(options, crf=WORKING_CRF)
        cache, device, doc = w.cache, w.settings.device, self.doc

        def work(job):
            job.progress(0.0, "loading the engine")
            notes = process(cache.engine(self.tool.name, None, device), engine_options, item, job)
            return notes, FrameSource(out)

        def done(result):
            notes, source = result
            if self.host.document is not doc:  # closed meanwhile
                source.close()
                return
            what = "; ".join(n.removeprefix("info: ") for n in notes)
            step = Step("Restore video", changes_image=True, tag={"video": run})
            cleared = hist.mask_step("", doc.mask, np.zeros_like(doc.mask))  # as the image tools: undo brings it back
            if cleared is not None:
                step.patches += cleared.patches
            self._results[run] = source
            w.apply_step(step, f"Restored the video ({len(source)} frames)" + (f": {what}" if what else ""),
                         tool=self.tool.name)

        return w.start_job(self.tool.job, work, done)

    # ------------------------------------------------------------ saving
    def save_as(self) -> bool:
        """Encode the result shown at the chosen quality, audio copied, atomically."""
        from studio.video.io import VideoReader, write_video

        w = self.host
        if self.result is None:
            w.status("Nothing to save yet: run Restore video first (the original is unchanged)")
            return False
        if w.runner.busy:
            w.status("Wait for the running job to finish (or cancel it with Esc) first")
            return False
        src = self.original.info.path
        suffix = src.suffix.lower() if src.suffix.lower() in CONTAINERS else ".mp4"
        path = w.files.ask_target("Save video as", str(src.with_name(src.stem + "-restored" + suffix)),
                                  SAVE_VIDEO_FILTER)
        if path is None:
            return False
        info, pts, crf = self.original.info, list(self.original.pts), int(self.form.value("crf"))
        reader = VideoReader(self.result.info.path)
        # The original's timestamps (the working copy's muxer may have changed the time base).
        frames = ((rgb, pts[i] if i < len(pts) else None) for i, rgb in enumerate(reader))
        w.status(f"Saving the video to {path} …")
        try:
            notes = run_off_ui_thread(write_video, path, frames, info, crf=crf)
        except (StudioError, ValueError) as e:
            w.status("")
            dialogs.show_error(w, "Cannot save the video", getattr(e, "gui", None) or str(e))
            return False
        self.doc.mark_saved(path)
        self.doc.mark_mask_saved()  # the saved result is what the mask was for
        w.settings.add_recent(path)
        w.update_actions()
        kept = ", audio kept" if info.audio else ""
        w.status(f"Saved the video to {path}{kept}" + ("; note: " + "; ".join(notes) if notes else ""))
        return True
