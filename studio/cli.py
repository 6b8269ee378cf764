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
from studio import options as opt
from studio import catalogue, mask_command
from studio.devices import CHOICES
from studio.errors import StudioError

EXIT_OK, EXIT_FAIL, EXIT_CANCELLED = 0, 2, 130

TRAINERS = {
    "dcgan": "studio.train.dcgan",
    "srresnet": "studio.train.srresnet",
    "srgan": "studio.train.srgan",
    "icgan": "studio.train.icgan",
    "photo-inpaint": "studio.train.photo_inpaint",
    "face-refiner": "studio.train.face_refiner",
}
BENCHES = {
    "inpaint": "studio.bench.inpaint",
    "sr": "studio.bench.sr",
    "edit": "studio.bench.edit",
    "photo-inpaint": "studio.bench.photo_inpaint",
    "video": "studio.bench.video",
    "damage": "studio.bench.damage",
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in our one-line format, exit 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        # One line, not argparse's usage block: "argument --seed: --seed wants..." loses its echo.
        flag = message.partition(": ")[0].removeprefix("argument ")
        if message.startswith("argument ") and message.partition(": ")[2].startswith(flag + " "):
            message = message.partition(": ")[2]
        raise SystemExit(_fail(f"{message} (see `{self.prog} --help`)"))


def _fail(message: str) -> int:
    print(f"studio: error: {message}", file=sys.stderr)
    return EXIT_FAIL


def _option_type(s: opt.Spec, name: str):
    """argparse's type= for one option: the option's own parsing and bounds."""
    def parse(text: str):
        try:
            return opt.parse_text(s, name, text)
        except StudioError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return parse


def add_options(parser: argparse.ArgumentParser, options_class) -> None:
    """One argument per field of a tool's options class, from its Spec."""
    for f in opt.fields(options_class):
        s, name = opt.spec(f), opt.flag_name(f)
        kw = dict(dest=f.name, help=s.help)
        if s.kind == "bool":  # the flag turns the default around
            kw["help"] = f"do not {s.help}" if f.default else s.help
            parser.add_argument(name, action="store_false" if f.default else "store_true", **kw)
        elif s.kind == "choice":
            parser.add_argument(name, default=f.default, choices=s.choices, **kw)
        elif s.kind == "pairs":
            parser.add_argument(name, type=_option_type(s, name), action="append", required=s.required,
                                metavar=s.metavar, **kw)
        else:
            parser.add_argument(name, type=_option_type(s, name), default=f.default, metavar=s.metavar, **kw)


def options_from(args, options_class):
    """The options object of the parsed arguments (validated by its class)."""
    values = {f.name: getattr(args, f.name) for f in opt.fields(options_class)}
    return options_class(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


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
    dev.add_argument("--device", default="auto", choices=CHOICES)

    for t in catalogue.TOOLS:
        c = sub.add_parser(t.name, parents=[common, dev], help=t.help)
        c.add_argument("image", type=Path, help="image file or folder")
        if t.mask:
            c.add_argument("mask", type=Path, help="mask file or folder (white = fill); paired by file name")
        c.add_argument("-o", "--output", type=Path, required=True, help="output file or folder")
        if t.architectures:
            c.add_argument("--model", default=None, help=f"checkpoint name (default {t.model}; see `studio models`)")
        add_options(c, t.options)

    v = sub.add_parser("inpaint-video", parents=[common, dev], help=catalogue.VIDEO.help)
    v.add_argument("video", type=Path, help="video file or folder")
    v.add_argument("mask", type=Path, help="mask image (white = fill; one for every frame, or with --key-frame one "
                   "that follows its object), mask video, or a folder of them paired by name")
    v.add_argument("-o", "--output", type=Path, required=True, help="output video (.mp4, .mov, .m4v, .mkv) or folder")
    v.add_argument("--model", default=None, help=f"photo inpainting checkpoint (default {catalogue.VIDEO.model})")
    add_options(v, catalogue.VIDEO.options)

    sub.add_parser("models", parents=[common], help="list installed checkpoints and their metrics")

    m = sub.add_parser("mask", parents=[common], help="make a mask file: an object's, or an old photo's damage")
    mask_command.add_arguments(m)

    t = sub.add_parser("train", parents=[common], help="train a model: " + ", ".join(TRAINERS))
    t.add_argument("model", choices=sorted(TRAINERS))
    t.add_argument("args", nargs=argparse.REMAINDER, help="options of that trainer (see --help after MODEL)")

    b = sub.add_parser("bench", parents=[common], help="measure quality and speed: " + ", ".join(BENCHES))
    b.add_argument("task", choices=sorted(BENCHES))
    b.add_argument("args", nargs=argparse.REMAINDER)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    names = {*COMMANDS, *(t.name for t in catalogue.TOOLS)}
    if argv and argv[0] not in names and not argv[0].startswith("-") and Path(argv[0]).suffix:
        argv = ["open", *argv]  # `studio photo.jpg` opens it, as a desktop launcher calls it
    args = build_parser().parse_args(argv)
    command = args.command or "open"
    try:
        return _command(command)(args)
    except StudioError as e:
        if args.verbose:
            import traceback

            traceback.print_exc()
        return _fail(str(e))
    except OSError as e:  # the file system refused something no check foresaw: still one line
        if args.verbose:
            import traceback

            traceback.print_exc()
        return _fail(f"{e.strerror or e}: {e.filename}" if e.filename else str(e.strerror or e))
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
    from studio import community
    from studio.checkpoints import list_checkpoints, search_dirs

    found, problems = list_checkpoints(verify=True)
    print("searched: " + ", ".join(str(d) for d in search_dirs()))
    if not found:
        print("no checkpoints found")
    for info in found:
        card = info.card
        metrics = ", ".join(f"{k}={v}" for k, v in (card.get("metrics") or {}).items())
        if info.architecture == community.ARCHITECTURE:
            metrics = community.describe(info.weights)  # "4x ESRGAN", or why it cannot be used
        size = info.weights.stat().st_size / 1e6
        print(f"{info.name:28s} {info.task:14s} {info.architecture:14s} {size:6.1f} MB  {metrics}")
        print(f"{'':28s} {info.weights}")
    for line in problems:
        print(f"problem: {line}", file=sys.stderr)
    return EXIT_OK


def _cmd_mask(args) -> int:
    return mask_command.run(args)


def _cmd_inpaint_video(args) -> int:
    from studio.video.command import run_video

    return run_video(args.video, args.mask, args.output, options_from(args, catalogue.VIDEO.options),
                     model=args.model, device=args.device, quiet=args.quiet, verbose=args.verbose)


def _cmd_train(args) -> int:
    return importlib.import_module(TRAINERS[args.model]).main(args.args) or EXIT_OK


def _cmd_bench(args) -> int:
    return importlib.import_module(BENCHES[args.task]).main(args.args) or EXIT_OK


def _tool_command(tool):
    def run(args) -> int:
        from studio.commands import run_tool

        inputs = [args.image, args.mask] if tool.mask else [args.image]
        return run_tool(tool, options_from(args, tool.options), inputs, args.output, model=getattr(args, "model", None),
                        device=args.device, quiet=args.quiet, verbose=args.verbose)

    return run


COMMANDS = {
    "open": _cmd_open,
    "models": _cmd_models,
    "inpaint-video": _cmd_inpaint_video,
    "mask": _cmd_mask,
    "train": _cmd_train,
    "bench": _cmd_bench,
}


def _command(name: str):
    """The function of a command: a fixed one, or a tool of the catalogue."""
    if name in COMMANDS:
        return COMMANDS[name]
    return _tool_command(catalogue.tool(name))
