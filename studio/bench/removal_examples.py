"""The docs' object-removal examples, at 100 %: one row per photo, columns the masked photo,
PatchMatch (patch synthesis alone), the photo net alone (Detail 0) and the photo engine (the
net's fill with texture synthesised from the photo), and the original.

    python -m studio.bench.removal_examples --data ../shared/data -o docs/object-removal.jpg

The masks are made as a user makes them: a box around the object (Select object, GrabCut)
grown by a few pixels, or the mask shipped with the photo; the text example writes text on a
photo and removes it, so its original is the truth.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from studio.catalogue import InpaintOptions
from studio.data.images import read_rgb
from studio.editing.mask_ops import grow
from studio.editing.select_object import select_object

# name, photo (under --data), mask: a box x,y,w,h to select, a lasso (a list of points), a mask file,
# or "text"; the crop x,y,w,h shown at 100 %
EXAMPLES = (
    ("boat on pebbles", "photos/wallpapers/plasma/EveningGlow.jpg",
     [(1108, 782), (1265, 778), (1300, 840), (1420, 900), (1560, 990), (1545, 1030), (1505, 1145), (1470, 1140),
      (1400, 1090), (1250, 1000), (1140, 925), (1105, 865)], (1040, 740, 600, 440)),
    ("person at a fence", "damaged/image.png", "damaged/mask.png", (0, 0, 256, 256)),
    ("dog on a bench", "damaged/overture-creations-5sI6fQgYIuo.png", "damaged/overture-creations-5sI6fQgYIuo_mask.png",
     (96, 96, 320, 416)),
    ("rabbit on grass", "damaged/bunny.jpeg", (60, 10, 320, 384), (0, 0, 448, 394)),
    ("text on wood", "photos/wallpapers/mate/Wood.jpg", "text", (900, 800, 760, 300)),
)
GROW = 6  # px added round a selection or lasso: an edge leaves a rim of the object's colour


def with_text(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The photo with white text written on it, and the text's mask (grown by 2 px)."""
    img = rgb.copy()
    m = np.zeros(img.shape[:2], np.uint8)
    for i, line in enumerate(("GAN STUDIO", "no text here")):
        cv2.putText(m, line, (960, 930 + 110 * i), cv2.FONT_HERSHEY_DUPLEX, 3.2, 1, 9, cv2.LINE_AA)
    img[m > 0] = 0.97
    return img, cv2.dilate(m, np.ones((5, 5), np.uint8)).astype(np.float32)


def example(data: Path, photo: str, mask, engines) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray]:
    """(the photo as given, its mask, each engine's result, the original)."""
    rgb = read_rgb(data / photo).astype(np.float32) / 255
    original = rgb
    if mask == "text":
        rgb, m = with_text(rgb)
    elif isinstance(mask, list):  # a lasso round the object
        m = np.zeros(rgb.shape[:2], np.uint8)
        cv2.fillPoly(m, [np.array(mask, np.int32)], 1)
        m = grow(m.astype(np.float32), GROW)
    elif isinstance(mask, str):
        m = (cv2.imread(str(data / mask), cv2.IMREAD_GRAYSCALE) > 127).astype(np.float32)
    else:
        m = grow(select_object(rgb, box=mask).astype(np.float32), GROW)
    return rgb, m, [fill(rgb, m) for fill in engines], original


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("-o", "--out", type=Path, default=Path("docs/object-removal.jpg"))
    p.add_argument("--height", type=int, default=300, help="each row's crop is cut to at most this height")
    args = p.parse_args(argv)
    from studio.bench.photo_inpaint import make_engine, patchmatch

    engines = [patchmatch, make_engine("net", "photo-inpaint", "cpu"), make_engine("photo", "photo-inpaint", "cpu")]
    rows = []
    for name, photo, mask, (x, y, w, h) in EXAMPLES:
        print(name, flush=True)
        rgb, m, outs, original = example(args.data, photo, mask, engines)
        shown = np.where(m[..., None] > 0.5, 0.5 * rgb + 0.5 * np.array([1, 0, 1], np.float32), rgb)
        h = min(h, args.height)
        tiles = [a[y:y + h, x:x + w] for a in (shown, *outs, original)]
        rows.append(np.concatenate([np.pad(t, ((4, 4), (4, 4), (0, 0)), constant_values=1) for t in tiles], 1))
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=1) for r in rows], 0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    bgr = cv2.cvtColor(np.round(np.clip(sheet, 0, 1) * 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(args.out), bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
