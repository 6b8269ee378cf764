"""Measure real hair colours for the hair colour edit (recolour.HAIR_LAB) on training faces.

    python -m studio.train.hair_colours --faces ../shared/data/faces/celebahq/256 \
        --attrs ../shared/data/faces/celebahq/list_attr.txt [--per-label 150] [--holdout 100]

Per hair colour label, faces labelled with that colour alone (the last --holdout files by number,
the benchmark's, excluded); per face, the robust centre and spread (recolour.lab_stats) of its
hair pixels: where the edit's zone for that colour is above ZONE and the pixel is not of the
skin's colour. Prints the means over the label's decisive half (the lighter half of blond and
grey faces, the darker half of black; all brown faces) as HAIR_LAB entries (OpenCV float Lab,
L 0-100).
"""

from __future__ import annotations

import argparse

import numpy as np

ZONE = 0.5
DECISIVE = {"Blond_Hair": 1, "Gray_Hair": 1, "Black_Hair": -1}  # lighter / darker half of the faces


def main(argv: list[str] | None = None) -> int:
    import cv2
    import torch

    from studio.data.attributes import labels_for, read_labels
    from studio.data.images import list_images, read_square
    from studio.engines import recolour
    from studio.engines.edit import HAIR_COLOURS, FaceEditor

    p = argparse.ArgumentParser(prog="python -m studio.train.hair_colours", description=__doc__.split("\n\n")[0])
    p.add_argument("--faces", required=True)
    p.add_argument("--attrs", required=True)
    p.add_argument("--per-label", type=int, default=150)
    p.add_argument("--holdout", type=int, default=100)
    p.add_argument("--size", type=int, default=256)
    args = p.parse_args(argv)
    ed = FaceEditor("icgan-faces64", torch.device("cpu"), refiner=None)
    files = list_images(args.faces)
    files = files[:-args.holdout] if args.holdout else files
    labels = labels_for(files, read_labels(args.attrs, names=ed.attributes))
    cols = [ed.attributes.index(a) for a in HAIR_COLOURS]
    for a, i in zip(HAIR_COLOURS, cols):
        only = (labels[:, i] > 0) & ((labels[:, cols] > 0).sum(1) == 1)
        zone = cv2.resize(ed.zone([a], 1.0), (args.size, args.size)) > ZONE
        centres, spreads = [], []
        for f in [f for f, keep in zip(files, only) if keep][:args.per_label]:
            img = read_square(f, args.size)
            u8 = np.round(img * 255).astype(np.uint8)
            hair = zone & (recolour.skin_distance(u8) >= recolour.SKIN_DIST)
            lab = cv2.cvtColor(img.astype(np.float32), cv2.COLOR_RGB2LAB)
            c, s = recolour.lab_stats(lab, hair.astype(np.float32))
            centres.append(c)
            spreads.append(s)
        centres, spreads = np.array(centres), np.array(spreads)
        # the decisive half: a user asking for blond (or grey, or black) wants hair that reads
        # as such, not the label's borderline faces (dark blond, dark grey, very dark brown)
        side = DECISIVE.get(a, 0)
        keep = side * centres[:, 0] >= side * np.median(centres[:, 0]) if side else np.ones(len(centres), bool)
        c, s = centres[keep].mean(0), spreads[keep].mean(0)
        print(f'    "{a}": (np.array([{c[0]:.1f}, {c[1]:.1f}, {c[2]:.1f}], np.float32), '
              f'np.array([{s[0]:.1f}, {s[1]:.1f}, {s[2]:.1f}], np.float32)),  # {int(keep.sum())} of {len(keep)} faces')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
