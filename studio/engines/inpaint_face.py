"""Face restoration on photos of any size: find the face, z-search at 64x64, paste back.

The search itself lives in latent_search.py; this engine does the photo work around it
(face framing, padding, bringing the fill back to full resolution and blending only the
masked region) with the crop/paste machinery the attribute editor shares (faces.py).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from studio.catalogue import InpaintOptions
from studio.engines import faces
from studio.engines.latent_search import LatentSearch, SearchOptions
from studio.engines.masks import require_hole
from studio.jobs import Job, quiet_job

FACE_MODEL = "dcgan-faces64"


class FaceInpainter:
    name = "face"

    def __init__(self, model: str | object = FACE_MODEL, device=None, *, search: SearchOptions | None = None,
                 upscale="auto", feather: int = 2):
        """search: the z-search's settings (options.steps overrides its step count per run)."""
        if isinstance(model, str):
            from studio.checkpoints import load_model

            model, _ = load_model(model, device)
        self.search = LatentSearch(model, device)
        self.search_options = search or SearchOptions()
        if upscale == "auto":  # the face SR checkpoint when installed, else a Lanczos resize
            from studio.engines.upscale import face_upscaler

            upscale = face_upscaler(device)
        self.upscale = upscale
        self.feather = feather

    def run(self, rgb: np.ndarray, mask: np.ndarray, options: InpaintOptions | None = None,
            job: Job | None = None) -> np.ndarray:
        """options: steps, seed and box (the face square; detected when None) are read."""
        job = job or quiet_job()
        options = options or InpaintOptions()
        require_hole(mask)
        job.progress(0.0, "finding the face")
        box = options.box or faces.choose_face(rgb, mask)
        crop = faces.extract(rgb, mask, box, 64)
        search = self.search_options
        if options.steps is not None:  # a copy: the engine's settings stay as built
            search = dataclasses.replace(search, steps=options.steps)
        result = self.search.search(crop.image64, crop.hole64, search, job.span(0.02, 0.95), options.seed,
                                    trust=crop.inside64)
        job.progress(0.96, "blending")
        return faces.paste(rgb, crop, result.image, mask, upscale=self.upscale, feather=self.feather, poisson=True)
