"""The video engine contract, and the engine `--engine auto|face|scene` dispatches to.

A video engine is built once for (model, device) like an image engine, then

    run(frames, masks, options, job, total=None) -> iterator of output frames

- frames: an iterable of HxWx3 uint8 RGB frames in display orientation (io.VideoReader);
- masks: an iterable of HxW float32 masks in [0, 1], white = fill, one per frame, read in step
  with the frames (masks.open_masks: a still mask repeats forever, so zip with the frames);
- options: catalogue.VideoInpaintOptions (frozen; per-run choices, never constructor arguments);
- job: studio.jobs.Job. The engine calls job.progress(fraction, message, preview) at least once
  per output frame (fraction of `total` frames when given; preview = that output frame as float32
  HxWx3 in [0, 1]); that call is the cancel point, so a cancel stops the iterator with Cancelled.
  job.note() says what was done (the engine `auto` chose, how much was copied or synthesised);
- yields one HxWx3 uint8 frame per input frame, in order, as soon as its window is done. An
  engine holds a bounded number of frames (its window), never the whole clip.

Engines never touch files: the caller writes the frames it gets (io.write_video writes into a
temporary file and renames it only once the iterator is exhausted), so a cancelled or failed run
leaves no partial output. `VideoInpainter.check(options)` raises StudioError for a choice that
cannot run, before any frame is read. Engines: scene (scene.py) and face (face.py: DCGAN z-search
over groups of frames). `auto` is scene: on talking heads with a hole on the mouth and chin
(`studio bench video --cases face-fom00,face-tpsmm,face-fom04`) it matched or beat the face
engine's hole PSNR and flicker at a third of its time (docs/video-restoration.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from studio.catalogue import VideoInpaintOptions
from studio.errors import StudioError
from studio.jobs import Job, quiet_job

class VideoInpainter:
    name = "inpaint-video"

    def __init__(self, model: str | None = None, device=None, *, fill=None):
        """model: the photo engine's checkpoint (default: the catalogue's). fill: the image engine for
        what no frame shows (tests); by default the photo engine, or Telea when no model is installed."""
        self.model, self.device = model, device
        self._fill, self._fill_note = fill, None
        self._face = None

    def check(self, options: VideoInpaintOptions) -> None:
        if options.engine == "face":
            self.face_engine()

    def face_engine(self):
        """The face engine (built once); StudioError when the face checkpoint is missing."""
        if self._face is None:
            from studio.engines.inpaint_face import FaceInpainter
            from studio.video.face import FaceVideoInpainter

            self._face = FaceVideoInpainter(FaceInpainter(device=self.device))
        return self._face

    def fill_engine(self):
        """The photo engine (built once), or classic Telea when no photo model is installed."""
        if self._fill is None:
            from studio.engines.inpaint import Inpainter

            images = Inpainter(self.model, self.device)
            try:
                self._fill = images.engine("photo")
            except StudioError as e:
                self._fill = images.engine("classic")
                self._fill_note = f"no photo inpainting model ({e}); Telea fills what no frame shows"
        return self._fill

    def run(self, frames: Iterable[np.ndarray], masks: Iterable[np.ndarray], options: VideoInpaintOptions | None = None,
            job: Job | None = None, total: int | None = None) -> Iterator[np.ndarray]:
        job = job or quiet_job()
        options = options or VideoInpaintOptions()
        self.check(options)
        if options.engine == "face":
            yield from self.face_engine().run(frames, masks, options, job, total)
            return
        from studio.video.scene import SceneInpainter

        fill = self.fill_engine()
        if self._fill_note:
            job.note(self._fill_note)
        yield from SceneInpainter(fill).run(frames, masks, options, job, total)
