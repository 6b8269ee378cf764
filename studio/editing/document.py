"""The open image as the editor sees it: picture, mask, face box, history, file state.

Unsaved work is the image since it was last saved (as an image or in a project) and the mask
since it was last kept (exported, or saved in a project): both are checked before closing.

Qt-free, so it can be tested directly. The float image always lies on its bit depth's grid
(k/255 or k/65535, exactly what imageio loads), which is what lets history store integers.
While a job runs the window does not change the image (jobs read it without copying), only
the mask, which jobs copy when they start.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.editing import history as hist
from studio.editing.history import History, Rect, Snapshot, Step

_NEVER_SAVED = object()


@dataclass
class Change:
    """What an edit touched, for the canvas to redraw: layer -> rect (None = everything)."""

    image: Rect | None | bool = False  # False = untouched, None = whole image, else rect
    mask: Rect | None | bool = False
    resized: bool = False


class Document:
    def __init__(self, picture, *, source: Path | None = None, budget: int = hist.DEFAULT_BUDGET):
        self.picture = picture
        self.mask = np.zeros(picture.rgb.shape[:2], np.uint8)
        self.history = History(budget)
        self.source = source  # the opened file: never written without the user saying so
        self.save_path: Path | None = None  # set by Save As; plain Save writes here
        self.project_path: Path | None = None  # the project file it was opened from or saved as
        self.face_box: tuple[int, int, int, int] | None = None
        self.untitled_name = "Untitled"  # the title while there is no file (pasted, recovered)
        self.revision = 0  # any change at all (autosave)
        self.image_revision = 0  # changes of the pixels (face-edit sessions go stale)
        self._saved_marker = _NEVER_SAVED if source is None else None
        self._mask_saved_marker = None  # the blank mask it starts with is nothing to lose
        self._stroke_before: np.ndarray | None = None
        self._stroke_rect: Rect | None = None

    # ------------------------------------------------------------ facts
    @property
    def size(self) -> tuple[int, int]:
        return self.picture.size

    @property
    def bit_depth(self) -> int:
        return 16 if self.picture.bit_depth == 16 else 8

    @property
    def name(self) -> str:
        path = self.project_path or self.save_path or self.source
        return path.name if path else self.untitled_name

    @property
    def dirty(self) -> bool:
        """Unsaved work: the image or the mask (see the module notes)."""
        return self.image_dirty or self.mask_dirty

    @property
    def image_dirty(self) -> bool:
        return self.history.last_image_step() is not self._saved_marker

    @property
    def mask_dirty(self) -> bool:
        """The mask changed since it was last kept, and is not blank (a blank one loses nothing)."""
        return self.history.last_mask_step() is not self._mask_saved_marker and self.has_mask()

    def mark_saved(self, path: Path | None = None) -> None:
        """The image was saved (to path, which plain Save writes from now on)."""
        if path is not None:
            self.save_path = path
        self._saved_marker = self.history.last_image_step()

    def mark_mask_saved(self, saved: bool = True) -> None:
        """The mask as it is now is kept in a file (saved=False: it is not, e.g. recovered)."""
        self._mask_saved_marker = self.history.last_mask_step() if saved else _NEVER_SAVED

    def frozen(self, copy_pixels: bool) -> Document:
        """A copy for a writer thread that later edits leave alone: the mask and history list are
        copied (steps are shared: they never change once made), the image only with copy_pixels
        (a job finishing during the write patches it in place)."""
        view = copy.copy(self)
        view.mask = self.mask.copy()
        view.history = copy.copy(self.history)
        view.history.steps = list(self.history.steps)
        if copy_pixels:
            view.picture = dataclasses.replace(self.picture, rgb=self.picture.rgb.copy())
        return view

    def has_mask(self) -> bool:
        return bool(self.mask.any())

    def quantized(self) -> np.ndarray:
        return hist.quantize(self.picture.rgb, self.bit_depth)

    def quantized_region(self, rect: Rect) -> np.ndarray:
        x, y, w, h = rect
        return hist.quantize(self.picture.rgb[y:y + h, x:x + w], self.bit_depth)

    # ------------------------------------------------------------ mask strokes
    def begin_stroke(self) -> None:
        self._stroke_before = self.mask.copy()
        self._stroke_rect = None

    def note_stroke(self, rect: Rect | None) -> None:
        from studio.editing.brush import union

        self._stroke_rect = union(self._stroke_rect, rect)

    def end_stroke(self, label: str = "Paint mask") -> Step | None:
        before, rect = self._stroke_before, self._stroke_rect
        self._stroke_before = self._stroke_rect = None
        if before is None or rect is None:
            return None
        step = hist.mask_step(label, before, self.mask, hint=rect)
        if step is not None:
            self.history.push(step)
            self.revision += 1
        return step

    @property
    def stroking(self) -> bool:
        return self._stroke_before is not None

    def set_mask(self, new_mask: np.ndarray, label: str) -> Change | None:
        """Replace the mask as one undoable step (clear, invert, load)."""
        new_mask = np.asarray(new_mask, np.uint8)
        step = hist.mask_step(label, self.mask, new_mask)
        if step is None:
            return None
        return self.push(step)

    # ------------------------------------------------------------ steps
    def push(self, step: Step) -> Change:
        """Apply a new step (built from the current state) and record it."""
        change = self._apply(step, forward=True)
        self.history.push(step)
        return change

    def undo(self) -> tuple[Step, Change] | None:
        if not self.history.can_undo():
            return None
        step = self.history.take_undo()
        return step, self._apply(step, forward=False)

    def redo(self) -> tuple[Step, Change] | None:
        if not self.history.can_redo():
            return None
        step = self.history.take_redo()
        return step, self._apply(step, forward=True)

    def replace_step(self, old: Step, new: Step) -> Change:
        """Show `new` in the place of `old`, the last done step that changed the image (another
        variant of the same result): undo still leads back to the image before `old`. Both change
        the image in place (not its size); their mask patches are the caller's to keep the same."""
        if self.history.last_image_step() is not old or old.before is not None or new.before is not None:
            raise ValueError("only the last image change, made in place, can be replaced")
        from studio.editing.brush import union

        rect = None
        for p, data in [(p, p.before) for p in old.patches] + [(p, p.after) for p in new.patches]:
            if p.layer == "image":
                x, y, w, h = p.rect
                self.picture.rgb[y:y + h, x:x + w] = hist.dequantize(data)
                rect = union(rect, p.rect)
        index = next(i for i, s in enumerate(self.history.steps) if s is old)
        self.history.steps[index] = new
        self.revision += 1
        self.image_revision += 1
        return Change(image=rect)

    def _apply(self, step: Step, forward: bool) -> Change:
        self.revision += 1
        if step.changes_image:
            self.image_revision += 1
        if step.before is not None:
            self._restore(step.after if forward else step.before)
            return Change(image=None, mask=None, resized=True)
        change = Change()
        for p in step.patches:
            x, y, w, h = p.rect
            region = (slice(y, y + h), slice(x, x + w))
            data = p.after if forward else p.before
            if p.layer == "image":
                self.picture.rgb[region] = hist.dequantize(data)
                change.image = p.rect
            else:
                self.mask[region] = data
                change.mask = p.rect
        return change

    def _restore(self, snap: Snapshot) -> None:
        self.picture = dataclasses.replace(self.picture, rgb=hist.dequantize(snap.image), alpha=snap.alpha)
        self.mask = snap.mask.copy()
        self.face_box = None  # a box in the old size's pixels means nothing now

    def snapshot(self) -> Snapshot:
        return Snapshot(self.quantized(), self.picture.alpha, self.mask.copy())

    def resize_step(self, label: str, after_q: np.ndarray, after_alpha: np.ndarray | None,
                    before_q: np.ndarray | None = None) -> Step:
        """A size-changing step (upscaling): whole snapshots; the mask is scaled along."""
        import cv2

        h, w = after_q.shape[:2]
        mask = cv2.resize(self.mask, (w, h), interpolation=cv2.INTER_NEAREST)
        before = Snapshot(before_q if before_q is not None else self.quantized(), self.picture.alpha, self.mask.copy())
        return Step(label, before=before, after=Snapshot(after_q, after_alpha, mask))

    # ------------------------------------------------------------ compare
    def before_last_result(self) -> np.ndarray | None:
        """Quantized image as it was before the last applied result (None: nothing applied)."""
        step = self.history.last_image_step()
        if step is None:
            return None
        if step.before is not None:
            return step.before.image
        out = self.quantized()
        for p in step.patches:
            if p.layer == "image":
                x, y, w, h = p.rect
                out[y:y + h, x:x + w] = p.before
        return out
