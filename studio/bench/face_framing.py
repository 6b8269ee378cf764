"""Measure how a CelebA-HQ training face sits relative to OpenCV's Haar face box.

    python -m studio.bench.face_framing --faces ../shared/data/faces/celebahq/256 --n 300

Each CelebA-HQ image IS the training framing, so the largest Haar box found on it, taken
relative to the image, tells how to grow a Haar box on any photo into a training-like square.
Prints the medians as the constants that studio/engines/faces.py keeps.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from studio.data.images import list_images
from studio.engines.faces import detect_faces


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), np.float32) / 255.0


def measure(paths: list[Path]) -> tuple[np.ndarray, int]:
    """Rows of (size ratio, centre dx, centre dy) for each image with a face, and the misses.

    With the image side S and the largest Haar box (x, y, w, h): ratio = w / S and
    d = (box centre - image centre) / S, so image side = w / ratio and image centre =
    box centre - d * image side.
    """
    rows, missed = [], 0
    for p in paths:
        rgb = load_rgb(p)
        boxes = detect_faces(rgb)
        if not boxes:
            missed += 1
            continue
        x, y, w, h = boxes[0]
        side = rgb.shape[1]
        rows.append((w / side, (x + w / 2) / side - 0.5, (y + h / 2) / rgb.shape[0] - 0.5))
    return np.array(rows, np.float64).reshape(-1, 3), missed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=Path, required=True, help="folder of CelebA-HQ 256x256 faces")
    ap.add_argument("--n", type=int, default=300, help="how many images to measure (first by number)")
    args = ap.parse_args(argv)
    paths = list_images(args.faces)[: args.n]
    if not paths:
        ap.error(f"no numbered .jpg faces in {args.faces}")
    rows, missed = measure(paths)
    if len(rows) == 0:
        ap.error("the detector found no face at all")
    med = np.median(rows, axis=0)
    q1, q3 = np.percentile(rows, [25, 75], axis=0)
    print(f"# {len(rows)} faces detected in {len(paths)} images ({missed} missed); median [IQR]")
    for name, i in (("HAAR_SIZE_RATIO", 0), ("HAAR_CENTRE_DX", 1), ("HAAR_CENTRE_DY", 2)):
        print(f"{name} = {med[i]:.4f}  # IQR {q1[i]:.4f} .. {q3[i]:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
