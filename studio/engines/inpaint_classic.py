"""Classic (non-learned) inpainting with OpenCV: Telea's fast marching or Navier-Stokes.

No model to load, works on any image size instantly; it is the fallback engine and the
baseline every learned engine is benchmarked against.
"""

from __future__ import annotations

import cv2
import numpy as np

from studio.catalogue import InpaintOptions
from studio.engines.masks import composite, require_hole
from studio.jobs import Job, quiet_job

METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}


class ClassicInpainter:
    name = "classic"

    def __init__(self, model=None, device=None, *, method: str = "telea", radius: int = 5):
        """model, device: unused (no network); the arguments every engine takes."""
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}")
        self.method = method
        self.radius = radius

    def run(self, rgb: np.ndarray, mask: np.ndarray, options: InpaintOptions | None = None,
            job: Job | None = None) -> np.ndarray:
        """rgb: HxWx3 float32 in [0,1]; mask: HxW in [0,1], white = fill. Reads no options."""
        job = job or quiet_job()
        hole = require_hole(mask).astype(np.uint8) * 255
        job.progress(0.0, f"inpainting ({self.method})")
        # cv2.inpaint takes 16-bit data only one channel at a time; filling each channel at
        # 16 bits costs little and keeps 16-bit photos free of banding.
        img16 = np.round(np.clip(rgb, 0, 1) * 65535).astype(np.uint16)
        chans = []
        for c in range(3):
            chans.append(cv2.inpaint(np.ascontiguousarray(img16[..., c]), hole, self.radius, METHODS[self.method]))
            job.progress((c + 1) / 3, f"inpainting ({self.method})")
        filled = np.stack(chans, -1).astype(np.float32) / 65535.0
        return composite(rgb, filled, mask)
