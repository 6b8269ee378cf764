"""`--engine auto`: pick the right inpainting engine for each image.

A mask held by a detected face goes to the face engine (when its checkpoint is installed);
everything else goes to the photo engine, or to classic OpenCV inpainting until a photo
checkpoint exists. Engines are built on first use, so a batch loads each at most once.
"""

from __future__ import annotations

import numpy as np

from studio.engines import faces
from studio.errors import CheckpointError, StudioError
from studio.jobs import Job


class AutoInpainter:
    name = "auto"

    def __init__(self, make_face, make_photo, make_classic):
        self._makers = {"face": make_face, "photo": make_photo, "classic": make_classic}
        self._engines: dict = {}
        self.last_choice = ""

    def _engine(self, kind: str):
        if kind not in self._engines:
            self._engines[kind] = self._makers[kind]()
        return self._engines[kind]

    def _available(self, kind: str) -> bool:
        try:
            self._engine(kind)
            return True
        except (CheckpointError, StudioError):
            self._makers[kind] = None
            return False

    def choose(self, rgb: np.ndarray, mask: np.ndarray) -> str:
        if self._makers["face"] is not None and self._available("face"):
            try:
                faces.choose_face(rgb, mask)
                return "face"
            except StudioError:
                pass
        if self._makers["photo"] is not None and self._available("photo"):
            return "photo"
        return "classic"

    def run(self, rgb: np.ndarray, mask: np.ndarray, job: Job | None = None) -> np.ndarray:
        self.last_choice = self.choose(rgb, mask)
        return self._engine(self.last_choice).run(rgb, mask, job)
