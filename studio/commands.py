"""The CLI's image commands, one function for every tool of the catalogue: files in, the
engine once (from the model cache), files out."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from studio import batch, catalogue
from studio.catalogue import Tool
from studio.jobs import Job
from studio.model_cache import ModelCache


def _save(item, picture, single: bool) -> list[str]:
    """Atomic save; returns the format's warnings (e.g. alpha flattened for JPEG)."""
    from studio.imageio import save_image

    # Existing outputs are replaced (re-running a batch is normal). Inputs are protected: in a
    # single-file run the user typed the output name, so writing over the image is what they
    # asked for (never over its mask); in a batch an input is never overwritten.
    return save_image(item.output, picture, overwrite=True, protect=item.inputs[1:] if single else item.inputs)


def process(tool: Tool, engine, options, item: batch.Item, job: Job, single: bool) -> list[str]:
    """One image (and its mask) through the engine to its output file; returns what to tell."""
    from studio.imageio import load_image, load_mask, resize_alpha, with_rgb

    pic = load_image(item.inputs[0])
    mask, notes = None, []
    if pic.frames > 1:
        notes.append(f"info: {item.inputs[0].name} holds {pic.frames} frames or pages; only the first was used")
    if tool.mask:
        mask, resized = load_mask(item.inputs[1], pic.size)
        if resized:
            notes.append(f"mask {item.inputs[1].name} is not {pic.size[0]}x{pic.size[1]}; rescaled it to the image")
    outs = catalogue.run_engine(engine, pic.rgb, mask, options, job)
    notes += [f"info: {n}" for n in job.notes]
    alpha = pic.alpha
    if alpha is not None and outs[0].shape[:2] != pic.rgb.shape[:2]:
        alpha = resize_alpha(alpha, (outs[0].shape[1], outs[0].shape[0]))
    notes += _save(item, with_rgb(pic, outs[0], alpha=alpha), single)
    for k, out in enumerate(outs[1:], start=2):  # variants beside the first: NAME-2.png, NAME-3.png, ...
        other = dataclasses.replace(item, output=variant_path(item.output, k))
        notes += _save(other, with_rgb(pic, out, alpha=alpha), single)
    if len(outs) > 1:
        notes.append(f"info: {len(outs)} variants: {item.output.name} (best fit), then "
                     f"{', '.join(variant_path(item.output, k).name for k in range(2, len(outs) + 1))}")
    return notes


def variant_path(output: Path, k: int) -> Path:
    return output.with_name(f"{output.stem}-{k}{output.suffix}")


def run_tool(tool: Tool, options, inputs: list[Path], output: Path, *, model: str | None = None,
             device: str = "auto", quiet: bool = False, verbose: bool = False,
             cache: ModelCache | None = None) -> int:
    """Run a tool over a file or a folder (paired with a mask folder when the tool reads masks);
    0, or 2 when any file failed. Inputs are checked before the engine loads, so a typo fails
    fast with its own message."""
    items, problems = batch.plan(inputs, output)
    from studio.imageio import output_format

    single = len(items) == 1 and not inputs[0].is_dir()
    if single:
        output_format(items[0].output)  # an unknown extension fails before the engine runs
    folder = items[0].output.parent if single else output
    batch.check_folder(folder)
    engine = (cache or ModelCache()).engine(tool.name, model, device)
    if hasattr(engine, "check"):  # options only the loaded model can judge (attribute names)
        engine.check(options)
    batch.prepare_folder(folder)  # only once the engine is there: a failed load leaves no empty folder

    def work(item, report):
        return process(tool, engine, options, item, Job(lambda p: report(p.fraction, p.message)), single)

    failed = batch.run_items(items, work, problems, desc=tool.name, quiet=quiet, verbose=verbose)
    return 2 if failed else 0
