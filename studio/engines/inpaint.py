"""The inpaint tool: each run goes to the face, photo or classic engine (`options.engine`).

`auto` sends a mask held by a detected face (or any run with a face box) to the face engine
when its checkpoint is installed, everything else to the photo engine, or to classic OpenCV
inpainting when no photo checkpoint exists. The engines are built on first use and kept, so a
batch or a session loads each at most once, and switching engines or options reloads nothing.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from studio.catalogue import InpaintOptions
from studio.engines import faces
from studio.errors import StudioError
from studio.jobs import Job, quiet_job


class Inpainter:
    name = "inpaint"

    def __init__(self, model: str | None = None, device=None, *, makers: dict | None = None):
        """model: the photo engine's checkpoint (default: the catalogue's). makers: kind -> callable
        building that engine, for tests; by default the real engines."""
        self._makers = {"face": self._face, "photo": self._photo, "classic": self._classic, **(makers or {})}
        self.model, self.device = model, device
        self._engines: dict = {}
        self._missing: dict[str, str] = {}  # kind -> why it cannot be built

    def _face(self):
        from studio.engines.inpaint_face import FaceInpainter

        return FaceInpainter(device=self.device)

    def _photo(self):
        from studio.catalogue import tool
        from studio.engines.inpaint_photo import PhotoInpainter

        return PhotoInpainter(self.model or tool("inpaint").model, device=self.device)

    @staticmethod
    def _classic():
        from studio.engines.inpaint_classic import ClassicInpainter

        return ClassicInpainter()

    def engine(self, kind: str):
        """The engine of this kind, built once (StudioError when its model is missing: asked for
        by name, it is tried again next time, so a checkpoint dropped in meanwhile is found)."""
        if kind not in self._engines:
            self._engines[kind] = self._makers[kind]()
        return self._engines[kind]

    def _available(self, kind: str) -> bool:
        """For auto's fallbacks: a missing engine is remembered, so a batch does not retry a
        slow failing load on every image."""
        if kind in self._missing:
            return False
        try:
            self.engine(kind)
            return True
        except StudioError as e:  # not installed (or not usable): fall through to the next engine
            self._missing[kind] = str(e)
            return False

    def check(self, options: InpaintOptions) -> None:
        """An engine asked for by name is built before a batch starts: a missing checkpoint is one
        error, not one per file."""
        if options.engine != "auto":
            self.engine(options.engine)

    def choose(self, rgb: np.ndarray, mask: np.ndarray, options: InpaintOptions) -> tuple[str, InpaintOptions]:
        """(the engine kind, the options it runs with: for a detected face, its box)."""
        if options.engine != "auto":
            return options.engine, options
        if options.box is not None:
            return "face", options  # a face box only means something to the face engine
        if self._available("face"):
            try:  # the box is handed on so the engine need not detect again
                return "face", dataclasses.replace(options, box=faces.choose_face(rgb, mask))
            except StudioError:
                pass
        return ("photo" if self._available("photo") else "classic"), options

    def run(self, rgb: np.ndarray, mask: np.ndarray, options: InpaintOptions | None = None,
            job: Job | None = None) -> np.ndarray:
        job = job or quiet_job()
        options = options or InpaintOptions()
        kind, options = self.choose(rgb, mask, options)
        out = self.engine(kind).run(rgb, mask, options, job)
        job.note(f"{kind} engine")
        return out

    def run_variants(self, rgb: np.ndarray, mask: np.ndarray, options: InpaintOptions | None = None,
                     job: Job | None = None) -> list[np.ndarray]:
        """options.variants different results, best first (only the face engine makes more than one)."""
        job = job or quiet_job()
        options = options or InpaintOptions()
        kind, options = self.choose(rgb, mask, options)
        engine = self.engine(kind)
        if options.variants > 1 and hasattr(engine, "run_variants"):
            outs = engine.run_variants(rgb, mask, options, job)
        else:
            if options.variants > 1:
                job.note(f"the {kind} engine makes one result: variants are the face engine's")
            outs = [engine.run(rgb, mask, options, job)]
        job.note(f"{kind} engine")
        return outs
