"""`--engine auto`: pick the right inpainting engine for each image.

A mask held by a detected face goes to the face engine (when its checkpoint is installed);
everything else goes to the photo engine, or to classic OpenCV inpainting until a photo
checkpoint exists. Engines are built on first use, so a batch loads each at most once.
"""

from __future__ import annotations

import numpy as np

from studio.engines import faces
from studio.errors import StudioError
from studio.jobs import Job


class AutoInpainter:
    name = "auto"

    def __init__(self, make_face, make_photo, make_classic):
        self._makers = {"face": make_face, "photo": make_photo, "classic": make_classic}
        self._engines: dict = {}
        self.last_choice = ""
        self._face_box = None

    def _engine(self, kind: str):
        if kind not in self._engines:
            self._engines[kind] = self._makers[kind]()
        return self._engines[kind]

    def _available(self, kind: str) -> bool:
        try:
            self._engine(kind)
            return True
        except StudioError:  # not installed (or not usable): fall through to the next engine
            self._makers[kind] = None
            return False

    def choose(self, rgb: np.ndarray, mask: np.ndarray) -> str:
        if self._makers["face"] is not None and self._available("face"):
            try:
                self._face_box = faces.choose_face(rgb, mask)  # kept so the engine need not detect again
                return "face"
            except StudioError:
                pass
        if self._makers["photo"] is not None and self._available("photo"):
            return "photo"
        return "classic"

    def run(self, rgb: np.ndarray, mask: np.ndarray, job: Job | None = None) -> np.ndarray:
        self._face_box = None
        self.last_choice = self.choose(rgb, mask)
        if self.last_choice == "face":
            return self._engine("face").run(rgb, mask, job, box=self._face_box)
        return self._engine(self.last_choice).run(rgb, mask, job)
