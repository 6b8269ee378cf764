"""Face restoration on photos of any size: find the face, z-search at 64x64, paste back.

The search itself lives in latent_search.py; this engine does the photo work around it
(face framing, padding, bringing the fill back to full resolution and blending only the
masked region) with the crop/paste machinery the attribute editor shares (faces.py).
The 64-px fill is brought to size by the face refiner when it is installed (sharp, in the
photo's own colour and texture: face_refine.py); else by face super-resolution and a
gradient-domain blend, which leave a softer fill.
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
REFINED_STEPS = 50  # the search's step limit when the refiner brings the fill to size


class FaceInpainter:
    name = "face"

    def __init__(self, model: str | object = FACE_MODEL, device=None, *, search: SearchOptions | None = None,
                 upscale="auto", feather: int = 2, refiner="auto"):
        """search: the z-search's settings (options.steps overrides its step count per run);
        refiner: "auto" (the shipped one when installed), None (the older path) or a FaceRefine."""
        if isinstance(model, str):
            from studio.checkpoints import load_model

            model, _ = load_model(model, device)
        self.search = LatentSearch(model, device)
        if upscale == "auto":  # the face SR checkpoint when installed, else a Lanczos resize
            from studio.engines.upscale import face_upscaler

            upscale = face_upscaler(device)
        self.upscale = upscale
        self.feather = feather
        if refiner == "auto":
            from studio.engines.face_refine import load_refiner

            refiner = load_refiner(device)
        self.refiner = refiner
        # With the refiner a short search is enough: 50 steps scored as 120 did at 256 px (centre holes
        # 17.55 vs 17.35 dB, irregular 18.53 vs 18.58) in half the time.
        self.search_options = search or (SearchOptions(steps=REFINED_STEPS) if refiner is not None else SearchOptions())
        # ...and without it (a fill pasted by the face SR, as the video engine does) the full search
        self.pasted_search_options = search or SearchOptions()

    def run(self, rgb: np.ndarray, mask: np.ndarray, options: InpaintOptions | None = None,
            job: Job | None = None) -> np.ndarray:
        """options: steps, seed and box (the face square; detected when None) are read."""
        options = dataclasses.replace(options or InpaintOptions(), variants=1)
        return self.run_variants(rgb, mask, options, job)[0]

    def run_variants(self, rgb: np.ndarray, mask: np.ndarray, options: InpaintOptions | None = None,
                     job: Job | None = None) -> list[np.ndarray]:
        """options.variants fills from different GAN faces, best fit first."""
        job = job or quiet_job()
        options = options or InpaintOptions()
        require_hole(mask)
        job.progress(0.0, "finding the face")
        box = options.box or faces.choose_face(rgb, mask)
        crop = faces.extract(rgb, mask, box, 64)
        search = self.search_options
        if options.steps is not None:  # a copy: the engine's settings stay as built
            search = dataclasses.replace(search, steps=options.steps)
        results = self.search.search_many(crop.image64, crop.hole64, options.variants, search, job.span(0.02, 0.9),
                                          options.seed, trust=crop.inside64)
        job.progress(0.9, "bringing the face to size")
        return [self.paste_fill(rgb, mask, crop, r.image) for r in results]

    def paste_fill(self, rgb: np.ndarray, mask: np.ndarray, crop: faces.FaceCrop, face64: np.ndarray) -> np.ndarray:
        """The 64-px fill of `crop` brought to size (refiner, else face SR and Poisson) and blended
        into the photo inside the feathered mask."""
        if self.refiner is not None:
            face = self.refiner(crop.image, crop.mask, face64)
            return faces.paste(rgb, crop, face, mask, feather=self.feather)
        return faces.paste(rgb, crop, face64, mask, upscale=self.upscale, feather=self.feather, poisson=True)
