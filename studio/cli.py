"""`studio`: the command line over the same engines the GUI uses.

Exit codes: 0 success; 2 bad input or a failed batch item (`studio: error: ...`, one line,
no traceback unless --verbose); 130 cancelled with Ctrl-C (nothing half-written: saves are
atomic and happen only after an image is finished).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from studio import __version__
from studio.errors import StudioError

EXIT_OK, EXIT_FAIL, EXIT_CANCELLED = 0, 2, 130

TRAINERS = {
    "dcgan": "studio.train.dcgan",
    "srresnet": "studio.train.srresnet",
    "srgan": "studio.train.srgan",
    "icgan": "studio.train.icgan",
    "photo-inpaint": "studio.train.photo_inpaint",
}
BENCHES = {
    "inpaint": "studio.bench.inpaint",
    "sr": "studio.bench.sr",
    "edit": "studio.bench.edit",
    "photo-inpaint": "studio.bench.photo_inpaint",
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in our one-line format, exit 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.print_usage(sys.stderr)
        raise SystemExit(_fail(message))


def _fail(message: str) -> int:
    print(f"studio: error: {message}", file=sys.stderr)
    return EXIT_FAIL


def _box(text: str) -> tuple[int, int, int, int]:
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--box wants x,y,w,h in pixels, got {text!r}") from None
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError("--box width and height must be positive")
    return x, y, w, h


def _detail(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"--detail wants a number from 0 to 1, got {text!r}")
    return v


def _gain(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0.0 < v <= 4.0:
        raise argparse.ArgumentTypeError(f"--gain wants a number above 0 and at most 4, got {text!r}")
    return v


def _attr_setting(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        if not sep or not name:
            raise ValueError
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--set wants ATTR=VALUE (e.g. Smiling=1), got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", help="show tracebacks and details")
    common.add_argument("--quiet", action="store_true", help="no progress bar")

    p = _Parser(prog="studio", description="GAN Studio: offline generative image editing.", parents=[common])
    p.add_argument("--version", action="version", version=f"studio {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    o = sub.add_parser("open", parents=[common], help="open the GUI (the default with no command)")
    o.add_argument("file", nargs="?", type=Path)

    dev = argparse.ArgumentParser(add_help=False)
    dev.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])

    u = sub.add_parser("upscale", parents=[common, dev], help="4x super-resolution (SRGAN)")
    u.add_argument("input", type=Path, help="image file or folder")
    u.add_argument("-o", "--output", type=Path, required=True, help="output file or folder")
    u.add_argument("--model", default=None, help="checkpoint name (see `studio models`)")
    u.add_argument("--tile", type=int, default=None, help="tile size in input pixels (smaller uses less memory)")

    i = sub.add_parser("inpaint", parents=[common, dev], help="fill the white part of a mask")
    i.add_argument("image", type=Path, help="image file or folder")
    i.add_argument("mask", type=Path, help="mask file or folder (white = fill); paired by file name")
    i.add_argument("-o", "--output", type=Path, required=True)
    i.add_argument("--engine", default="auto", choices=["auto", "face", "photo", "classic"])
    i.add_argument("--steps", type=int, default=None, help="search steps (face engine)")
    i.add_argument("--seed", type=int, default=None, help="random seed, for reproducible results")
    i.add_argument("--box", type=_box, default=None, help="face crop x,y,w,h (skips face detection)")
    i.add_argument("--detail", type=_detail, default=None, metavar="0..1",
                   help="photo engine: how much texture matched from the rest of the photo is added to the "
                        "fill (default 0.5; 0 = the net's smooth fill)")

    e = sub.add_parser("edit", parents=[common, dev], help="change face attributes (IcGAN)")
    e.add_argument("image", type=Path)
    e.add_argument("--set", dest="settings", type=_attr_setting, action="append", required=True,
                   metavar="ATTR=VALUE", help="e.g. --set Smiling=1 --set Eyeglasses=-1")
    e.add_argument("-o", "--output", type=Path, required=True)
    e.add_argument("--box", type=_box, default=None, help="face crop x,y,w,h (skips face detection)")
    e.add_argument("--face", type=int, default=None, metavar="K",
                   help="which detected face to edit, counted from the left (default: the largest)")
    e.add_argument("--transfer", choices=("local", "delta", "replace"), default="local",
                   help="local (default): the generator's pixels where the edit changes the face strongly, "
                        "else only the change; delta: only the change (keeps the most of the person, "
                        "weaker edits); replace: the generated face")
    e.add_argument("--gain", type=_gain, default=None,
                   help="scale of the change the generator is asked for (default: the model card's "
                        "calibrated gain per attribute; 1 = the plain IcGAN edit)")
    e.add_argument("--no-links", dest="links", action="store_false",
                   help="do not make other hair colours absent when one is made present (nor bald vs. bangs, "
                        "straight vs. wavy hair)")
    e.add_argument("--model", default=None)

    sub.add_parser("models", parents=[common], help="list installed checkpoints and their metrics")

    t = sub.add_parser("train", parents=[common], help="train a model: " + ", ".join(TRAINERS))
    t.add_argument("model", choices=sorted(TRAINERS))
    t.add_argument("args", nargs=argparse.REMAINDER, help="options of that trainer (see --help after MODEL)")

    b = sub.add_parser("bench", parents=[common], help="measure quality and speed: " + ", ".join(BENCHES))
    b.add_argument("task", choices=sorted(BENCHES))
    b.add_argument("args", nargs=argparse.REMAINDER)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] not in COMMANDS and not argv[0].startswith("-") and Path(argv[0]).suffix:
        argv = ["open", *argv]  # `studio photo.jpg` opens it, as a desktop launcher calls it
    args = build_parser().parse_args(argv)
    command = args.command or "open"
    try:
        return COMMANDS[command](args)
    except StudioError as e:
        if args.verbose:
            import traceback

            traceback.print_exc()
        return _fail(str(e))
    except KeyboardInterrupt:
        print("studio: cancelled", file=sys.stderr)
        return EXIT_CANCELLED


def _cmd_open(args) -> int:
    try:
        from studio.ui.app import run_app
    except ImportError as e:
        raise StudioError(f"the GUI could not start: {e}") from None
    return run_app(getattr(args, "file", None))


def _cmd_models(args) -> int:
    from studio.checkpoints import list_checkpoints, search_dirs

    found, problems = list_checkpoints()
    print("searched: " + ", ".join(str(d) for d in search_dirs()))
    if not found:
        print("no checkpoints found")
    for info in found:
        card = info.card
        metrics = ", ".join(f"{k}={v}" for k, v in (card.get("metrics") or {}).items())
        size = info.weights.stat().st_size / 1e6
        print(f"{info.name:28s} {info.task:14s} {info.architecture:14s} {size:6.1f} MB  {metrics}")
        print(f"{'':28s} {info.weights}")
    for line in problems:
        print(f"problem: {line}", file=sys.stderr)
    return EXIT_OK


def _delegate(table: dict, key: str, args: list[str], what: str) -> int:
    try:
        module = importlib.import_module(table[key])
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("studio."):
            raise StudioError(f"`studio {what} {key}` is not available in this version yet") from None
        raise
    return module.main(args) or EXIT_OK


def _cmd_train(args) -> int:
    return _delegate(TRAINERS, args.model, args.args, "train")


def _cmd_bench(args) -> int:
    return _delegate(BENCHES, args.task, args.args, "bench")


def _image_command(name: str):
    def run(args) -> int:
        from studio import commands

        return getattr(commands, f"run_{name}")(args)

    return run


COMMANDS = {
    "open": _cmd_open,
    "models": _cmd_models,
    "train": _cmd_train,
    "bench": _cmd_bench,
    "upscale": _image_command("upscale"),
    "inpaint": _image_command("inpaint"),
    "edit": _image_command("edit"),
}
