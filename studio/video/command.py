"""`studio inpaint-video VIDEO MASK -o OUT`: files in, the video engine once, files out.

VIDEO and MASK may be files, or folders paired by name like the image commands' batches; a
folder of videos may also share one mask file (the same logo on every clip). MASK is an image
(a still mask, or with --key-frame one that follows its object) or a mask video.
"""

from __future__ import annotations

from pathlib import Path

from studio import batch
from studio.catalogue import VideoInpaintOptions
from studio.errors import StudioError
from studio.jobs import Job
from studio.model_cache import ModelCache
from studio.video.io import CONTAINERS, VIDEO_EXTS, output_container

TRACKING_SHARE = 0.1  # of a job's progress: the first pass that follows a key-frame mask


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False


def process(engine, options: VideoInpaintOptions, item: batch.Item, job: Job) -> list[str]:
    """One video and its mask through the engine into the output file; returns what to tell.
    Nothing is written unless every frame is done (a cancel raises through write_video, which
    then removes its temporary file)."""
    from studio.video.io import VideoReader, probe, write_video
    from studio.video.masks import open_masks

    video, mask = item.inputs
    for given in item.inputs:
        if _same_file(item.output, given):
            raise StudioError(f"the output {item.output} is the input {given}: name another file, so the original "
                              "stays")
    info = probe(video)
    tracking = options.key_frame is not None
    masks, notes = open_masks(mask, info, options.key_frame, job.span(0.0, TRACKING_SHARE) if tracking else job)
    reader = VideoReader(video, info)
    frames = engine.run(iter(reader), masks, options, job.span(TRACKING_SHARE if tracking else 0.0, 1.0),
                        total=info.frames or None)
    notes += write_video(item.output, ((rgb, reader.pts[i]) for i, rgb in enumerate(frames)), info, crf=options.crf)
    return notes + [f"info: {n}" for n in job.notes]


def plan(video: Path, mask: Path, output: Path) -> tuple[list[batch.Item], list[str]]:
    """Items (video, mask) -> output. A folder of videos takes a mask folder (paired by name) or one
    mask file for all; outputs in a folder keep their name, as .mp4 when their container is not one
    we write."""
    shared_mask = video.is_dir() and mask.is_file()
    inputs = [video] if shared_mask else [video, mask]
    items, problems = batch.plan(inputs, output, exts=VIDEO_EXTS, noun="videos",
                                 companion_exts=VIDEO_EXTS + batch.IMAGE_EXTS)
    if shared_mask:
        items = [batch.Item((i.inputs[0], mask), i.output) for i in items]
    named = not video.is_dir() and not output.is_dir()  # the user typed this output name: keep it
    fixed = []
    for i in items:
        out = i.output
        if not named and out.suffix.lower() not in CONTAINERS:
            out = out.with_suffix(".mp4")
        fixed.append(batch.Item(i.inputs, out))
    return fixed, problems


def run_video(video: Path, mask: Path, output: Path, options: VideoInpaintOptions, *, model: str | None = None,
              device: str = "auto", quiet: bool = False, verbose: bool = False,
              cache: ModelCache | None = None) -> int:
    """0, or 2 when any video failed. Inputs and the output name are checked before the engine
    loads."""
    items, problems = plan(video, mask, output)
    single = len(items) == 1 and not video.is_dir()
    if single:
        output_container(items[0].output)  # a wrong extension fails before any work
    folder = items[0].output.parent if single else output
    batch.check_folder(folder)
    engine = (cache or ModelCache()).engine("inpaint-video", model, device)
    engine.check(options)
    batch.prepare_folder(folder)

    def work(item, report):
        return process(engine, options, item, Job(lambda p: report(p.fraction, p.message)))

    failed = batch.run_items(items, work, problems, desc="inpaint-video", quiet=quiet, verbose=verbose, unit="video")
    return 2 if failed else 0
