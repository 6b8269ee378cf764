"""The image commands of the CLI (upscale, inpaint, edit): files in, engine once, files out."""

from __future__ import annotations

from pathlib import Path

from studio import batch
from studio.errors import StudioError
from studio.jobs import Job

DEFAULT_UPSCALE_MODEL = "srgan"
PHOTO_INPAINT_MODEL = "photo-inpaint"
EDIT_MODEL = "icgan-faces64"


def _job(report) -> Job:
    return Job(lambda p: report(p.fraction, p.message))


def _run(args, inputs: list[Path], desc: str, make_engine, process) -> int:
    """Check the inputs, load the engine once, run `process(engine, item, job, single)`.

    Inputs are checked before the engine loads, so a typo fails fast with its own message.
    """
    items, problems = batch.plan(inputs, args.output)
    engine = make_engine()
    single = len(items) == 1 and not inputs[0].is_dir()
    if single:
        args.output.parent.mkdir(parents=True, exist_ok=True)
    else:
        args.output.mkdir(parents=True, exist_ok=True)

    def work(item, report):
        return process(engine, item, _job(report), single)

    failed = batch.run_items(items, work, problems, desc=desc, quiet=args.quiet, verbose=args.verbose)
    return 2 if failed else 0


def _save(item, picture, single: bool) -> list[str]:
    """Atomic save; returns the format's warnings (e.g. alpha flattened for JPEG)."""
    from studio.imageio import save_image

    # Existing outputs are replaced (re-running a batch is normal). Inputs are protected: in a
    # single-file run the user typed the output name, so writing over the input is what they
    # asked for; in a batch an input is never overwritten.
    return save_image(item.output, picture, overwrite=True, protect=item.inputs, overwrite_input=single)


def _make_upscaler(args):
    from studio.devices import pick_device

    device = pick_device(args.device)
    try:
        from studio.engines.upscale import Upscaler
    except ModuleNotFoundError:
        raise StudioError("4x upscaling is not available in this version yet") from None
    return Upscaler(args.model or DEFAULT_UPSCALE_MODEL, device=device, tile=args.tile)


def run_upscale(args) -> int:
    if args.tile is not None and args.tile < 16:
        raise StudioError("--tile must be at least 16 pixels")

    def process(engine, item, job, single):
        from studio.imageio import load_image, resize_alpha, with_rgb

        pic = load_image(item.inputs[0])
        out = engine.run(pic.rgb, job)
        h, w = out.shape[:2]
        alpha = resize_alpha(pic.alpha, (w, h)) if pic.alpha is not None else None
        return _save(item, with_rgb(pic, out, alpha=alpha), single)

    return _run(args, [args.input], "upscale", lambda: _make_upscaler(args), process)


def make_inpainter(args):
    from studio.devices import pick_device
    from studio.engines.inpaint_auto import AutoInpainter
    from studio.engines.inpaint_classic import ClassicInpainter

    device = pick_device(args.device)

    def face():
        from studio.engines.inpaint_face import FaceInpainter

        return FaceInpainter(device=device, steps=args.steps, seed=args.seed, box=args.box)

    def photo():
        try:
            from studio.engines.inpaint_photo import PhotoInpainter
        except ModuleNotFoundError:
            raise StudioError("the photo inpainting engine is not available in this version yet; "
                              "try --engine classic") from None
        detail = getattr(args, "detail", None)
        return PhotoInpainter(PHOTO_INPAINT_MODEL, device=device, seed=args.seed,
                              **({} if detail is None else {"detail": detail}))

    makers = {"face": face, "photo": photo, "classic": ClassicInpainter}
    if args.engine == "auto" and args.box is not None:
        return face()  # a face box only means something to the face engine
    if args.engine == "auto":
        return AutoInpainter(**{f"make_{k}": v for k, v in makers.items()})
    return makers[args.engine]()


def run_inpaint(args) -> int:
    def process(engine, item, job, single):
        from studio.imageio import load_image, load_mask, with_rgb

        pic = load_image(item.inputs[0])
        mask, resized = load_mask(item.inputs[1], pic.size)
        warnings = []
        if resized:
            warnings.append(f"mask {item.inputs[1].name} is not {pic.size[0]}x{pic.size[1]}; rescaled it to the image")
        out = engine.run(pic.rgb, mask, job)
        if getattr(engine, "last_choice", ""):
            warnings.append(f"info: {engine.last_choice} engine")
        return warnings + _save(item, with_rgb(pic, out), single)

    return _run(args, [args.image, args.mask], "inpaint", lambda: make_inpainter(args), process)


def run_edit(args) -> int:
    changes = dict(args.settings)

    def make_engine():
        from studio.devices import pick_device

        try:
            from studio.engines.edit import FaceEditor
        except ModuleNotFoundError:
            raise StudioError("face attribute editing is not available in this version yet") from None
        engine = FaceEditor(args.model or EDIT_MODEL, device=pick_device(args.device), box=args.box,
                            face_index=getattr(args, "face", None), transfer=getattr(args, "transfer", "local"),
                            gain=getattr(args, "gain", None), links=getattr(args, "links", True))
        engine.check_attributes(changes)
        return engine

    def process(engine, item, job, single):
        from studio.imageio import load_image, with_rgb

        pic = load_image(item.inputs[0])
        out = engine.run(pic.rgb, changes, job)
        return _save(item, with_rgb(pic, out), single)

    return _run(args, [args.image], "edit", make_engine, process)
