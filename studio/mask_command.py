"""`studio mask`: make a mask file (white = fill) from an image, for `studio inpaint` or the window.

    studio mask photo.jpg --box 120,80,300,240 -o mask.png          # the object in the box
    studio mask photo.jpg --point 260,200 --grow 8 --feather 4 -o mask.png
    studio mask scan.jpg --damage --sensitivity 0.6 -o mask.png    # tears, scratches, dust

The arguments are declared here and parsed by cli.py; OpenCV loads only when the command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

def _numbers(flag: str, names: str, count: int):
    def parse(text: str) -> tuple[int, ...]:
        parts = text.replace(" ", "").split(",")
        try:
            values = tuple(int(round(float(p))) for p in parts)
        except ValueError:
            values = ()
        if len(values) != count:
            raise argparse.ArgumentTypeError(f"{flag} wants {count} numbers {names}, not {text!r}")
        return values

    return parse


def _pixels(flag: str):
    def parse(text: str) -> int:
        from studio.editing.mask_ops import MAX_PX  # here: `studio --help` imports no OpenCV

        try:
            value = int(text)
        except ValueError:
            value = -1
        if not 0 <= value <= MAX_PX:
            raise argparse.ArgumentTypeError(f"{flag} wants a whole number of pixels from 0 to {MAX_PX}, not {text!r}")
        return value

    return parse


def _sensitivity(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"--sensitivity wants a number from 0 to 1, not {text!r}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", type=Path, help="the image to make a mask for")
    p.add_argument("-o", "--output", type=Path, required=True, help="the mask file to write (PNG: white = fill)")
    what = p.add_argument_group("what to mask (a box and/or a point, or --damage)")
    what.add_argument("--box", type=_numbers("--box", "x,y,width,height", 4), metavar="X,Y,W,H",
                      help="a box round the object, in image pixels")
    what.add_argument("--point", type=_numbers("--point", "x,y", 2), metavar="X,Y",
                      help="a point on the object (with --box: a point that is surely the object)")
    what.add_argument("--damage", action="store_true", help="tears, scratches, creases and dust of an old photo")
    what.add_argument("--sensitivity", type=_sensitivity, default=None, metavar="S",
                      help="with --damage: 0 (only the plainest damage) to 1 (faint damage too); default 0.5")
    what.add_argument("--no-tears", action="store_true",
                      help="with --damage: leave out wide white areas (for photos without tears)")
    edge = p.add_argument_group("the mask's edge")
    edge.add_argument("--grow", type=_pixels("--grow"), default=0, metavar="N", help="widen the mask by N pixels")
    edge.add_argument("--shrink", type=_pixels("--shrink"), default=0, metavar="N", help="narrow the mask by N pixels")
    edge.add_argument("--feather", type=_pixels("--feather"), default=0, metavar="N",
                      help="soften the edge over N pixels (after growing or shrinking)")


def run(args) -> int:
    import numpy as np

    from studio import batch
    from studio.editing import mask_ops
    from studio.errors import StudioError
    from studio.imageio import Picture, load_image, output_format, save_image

    selecting = args.box is not None or args.point is not None
    if selecting == args.damage:
        raise StudioError("give --box and/or --point (an object), or --damage (see `studio mask --help`)")
    if not args.damage and (args.sensitivity is not None or args.no_tears):
        raise StudioError("--sensitivity and --no-tears go with --damage")
    if args.grow and args.shrink:
        raise StudioError("give --grow or --shrink, not both")
    output_format(args.output)  # an unknown extension or an unwritable folder fails before any work
    batch.check_folder(args.output.parent)
    pic = load_image(args.image)
    if args.damage:
        from studio.editing.damage import DEFAULT_SENSITIVITY, detect_damage

        sensitivity = DEFAULT_SENSITIVITY if args.sensitivity is None else args.sensitivity
        mask = detect_damage(pic.rgb, sensitivity, tears=not args.no_tears)
    else:
        from studio.editing.select_object import select_object

        mask = select_object(pic.rgb, box=args.box, point=args.point)
    mask = mask_ops.grow(mask, args.grow - args.shrink)
    mask = mask_ops.feather(mask, args.feather)
    batch.prepare_folder(args.output.parent)
    grey = np.repeat((mask.astype(np.float32) / 255)[..., None], 3, axis=2)
    notes = save_image(args.output, Picture(rgb=grey, was_gray=True), overwrite=True, protect=[args.image])
    for note in notes:
        print(f"studio: {note}")
    if not args.quiet:
        w, h = pic.size
        print(f"{args.output}: {(mask > 127).mean() * 100:.1f} % of the {w}x{h} image to fill")
    return 0
