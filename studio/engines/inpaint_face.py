"""Face restoration on photos of any size: find the face, z-search at 64x64, paste back.

The search itself lives in latent_search.py; this engine does the photo work around it
(face framing, padding, bringing the fill back to full resolution and blending only the
masked region) with the crop/paste machinery the attribute editor shares (faces.py).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from studio.engines import faces
from studio.engines.latent_search import LatentSearch, SearchOptions
from studio.engines.masks import require_hole
from studio.jobs import Job, quiet_job

FACE_MODEL = "dcgan-faces64"


class FaceInpainter:
    name = "face"

    def __init__(self, model: str | object = FACE_MODEL, device=None, *, steps: int | None = None,
                 seed: int | None = None, box: faces.Box | None = None, options: SearchOptions | None = None,
                 upscale="auto", feather: int = 2):
        if isinstance(model, str):
            from studio.checkpoints import load_model

            model, _ = load_model(model, device)
        self.search = LatentSearch(model, device)
        self.options = options or SearchOptions()
        if steps is not None:  # a copy: never change the caller's options object
            self.options = dataclasses.replace(self.options, steps=steps)
        self.seed = seed
        self.box = box
        if upscale == "auto":  # the face SR checkpoint when installed, else a Lanczos resize
            from studio.engines.upscale import face_upscaler

            upscale = face_upscaler(device)
        self.upscale = upscale
        self.feather = feather

    def run(self, rgb: np.ndarray, mask: np.ndarray, job: Job | None = None, *,
            box: faces.Box | None = None) -> np.ndarray:
        """box: the face square if the caller already found it (else self.box, else detect)."""
        job = job or quiet_job()
        require_hole(mask)
        job.progress(0.0, "finding the face")
        box = box or self.box or faces.choose_face(rgb, mask)
        crop = faces.extract(rgb, mask, box, 64)
        result = self.search.search(crop.image64, crop.hole64, self.options, job.span(0.02, 0.95), self.seed,
                                    trust=crop.inside64)
        job.progress(0.96, "blending")
        return faces.paste(rgb, crop, result.image, mask, upscale=self.upscale, feather=self.feather, poisson=True)
