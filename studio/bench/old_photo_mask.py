"""Derive an inpainting mask for the tears and creases of an old photo, as a PNG (white = fill).

    python -m studio.bench.old_photo_mask ../shared/data/damaged/old_photo.jpg -o old_photo_mask.png \
        --clean ../shared/data/damaged/old_photo_clean.jpg --overlay check.png
    studio inpaint ../shared/data/damaged/old_photo.jpg old_photo_mask.png -o restored.png --engine photo

Tears expose the white paper base: thin structures brighter than their surroundings and
less saturated than the picture. A white top-hat (the image minus its morphological opening
with a disc ~6 % of the long side) finds what is brighter than its neighbourhood and
narrower than the disc; a pixel is kept where that excess is large and the pixel is light,
or the excess is very large (thin tears across dark hair are blurred by JPEG and never
get light), and where it is not saturated (white teeth and highlights on skin are). Specks
are dropped and the rest grown by a pixel, so the torn edges are covered too. A white scan
margin around the print is left alone: torn corners that touch it still count.

With --clean (an undamaged version of the same picture) it prints how the derived mask
agrees with the true damage, |damaged - clean| > 30 on any channel.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np


def print_area(light: np.ndarray, white: float = 245) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 of the print inside a white scan margin (the whole image if none)."""
    margin = light > white
    cols, rows = margin.mean(0) < 0.5, margin.mean(1) < 0.5
    if not cols.any() or not rows.any():
        return 0, 0, light.shape[1], light.shape[0]
    xs, ys = np.nonzero(cols)[0], np.nonzero(rows)[0]
    return int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1


def tear_mask(bgr: np.ndarray, *, kernel: float = 0.06, excess: float = 30, strong: float = 60,
              light: float = 220, max_saturation: float = 70, min_area: int = 6, grow: int = 1) -> np.ndarray:
    """uint8 HxW mask (255 = tear) of a BGR uint8 photo; thresholds are on 0..255 scales."""
    lab_l = cv2.cvtColor(bgr, cv2.COLOR_BGR2LAB)[..., 0].astype(np.float32)
    sat = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)[..., 1].astype(np.float32)
    x0, y0, x1, y1 = print_area(lab_l)
    inside = np.zeros(lab_l.shape, bool)
    inside[y0:y1, x0:x1] = True
    # The margin takes the print's typical lightness, so that a torn corner touching the
    # margin is a narrow bright shape like any other tear, not part of a vast white area.
    padded = np.where(inside, lab_l, np.median(lab_l[inside]))
    k = max(3, int(round(kernel * max(bgr.shape[:2]))) | 1)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    tophat = padded - cv2.morphologyEx(padded, cv2.MORPH_OPEN, disc)
    m = (tophat > excess) & ((lab_l > light) | (tophat > strong)) & (sat < max_saturation) & inside
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False
    out = keep[labels].astype(np.uint8) * 255
    if grow > 0:
        out = cv2.dilate(out, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2))
    return out


def agreement(mask: np.ndarray, damaged: np.ndarray, clean: np.ndarray, threshold: int = 30) -> dict[str, float]:
    """IoU, precision and recall of a mask against the true damage (damaged vs clean)."""
    truth = np.abs(damaged.astype(np.int16) - clean.astype(np.int16)).max(-1) > threshold
    m = mask > 127
    inter = float((m & truth).sum())
    return {"iou": inter / max(float((m | truth).sum()), 1.0), "precision": inter / max(float(m.sum()), 1.0),
            "recall": inter / max(float(truth.sum()), 1.0), "mask_fraction": float(m.mean()),
            "damage_fraction": float(truth.mean())}


def _read(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"cannot read {path}")
    return img


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m studio.bench.old_photo_mask", description=__doc__.split("\n\n")[0])
    p.add_argument("image", type=Path, help="the damaged photo")
    p.add_argument("-o", "--output", type=Path, required=True, help="mask PNG to write (white = fill)")
    p.add_argument("--clean", type=Path, default=None, help="an undamaged version: print how well the mask agrees")
    p.add_argument("--overlay", type=Path, default=None, help="also write the photo with the mask in red")
    p.add_argument("--kernel", type=float, default=0.06, help="top-hat disc, as a fraction of the long side")
    p.add_argument("--excess", type=float, default=30, help="how much brighter than the surroundings (0..255)")
    p.add_argument("--grow", type=int, default=1, help="grow the mask by this many pixels")
    args = p.parse_args(argv)
    img = _read(args.image)
    mask = tear_mask(img, kernel=args.kernel, excess=args.excess, grow=args.grow)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.output), mask):
        raise SystemExit(f"cannot write {args.output}")
    print(f"mask: {args.output} ({(mask > 0).mean() * 100:.2f} % of the image)")
    if args.overlay:
        over = img.copy()
        over[mask > 0] = (0.4 * over[mask > 0] + 0.6 * np.array([0, 0, 255])).astype(np.uint8)
        cv2.imwrite(str(args.overlay), over)
    if args.clean:
        clean = _read(args.clean)
        if clean.shape != img.shape:
            raise SystemExit(f"{args.clean} is not the same size as {args.image}")
        a = agreement(mask, img, clean)
        print(f"against the clean version: IoU {a['iou']:.3f}, precision {a['precision']:.3f}, recall {a['recall']:.3f} "
              f"(mask {a['mask_fraction'] * 100:.2f} %, true damage {a['damage_fraction'] * 100:.2f} % of the image)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
