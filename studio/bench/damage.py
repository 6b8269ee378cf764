"""`studio bench damage`: how well the damage detector's proposed mask agrees with the true damage.

    studio bench damage --pair ../shared/data/damaged/old_photo.jpg ../shared/data/damaged/old_photo_clean.jpg \
        --photos ../shared/data/photos/bsds500/test --last 8
    studio bench damage --photos PHOTOS --last 8 --sensitivity 0.3 --sensitivity 0.7 --save-dir masks/

Two kinds of truth:
- a pair: a damaged scan and a restored version of it; the true damage is where they differ by
  more than 30 levels on any channel (true_damage);
- synthetic damage on clean photos (the last N of a folder in name order, the holdout the
  trainers keep out of training): thin bright and dark scratches, dust specks and a faint
  crease drawn with a seed per photo, scored by the same rule against the photo before.
It prints IoU, precision and recall per image and their means for each sensitivity.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from studio.data.images import list_images, read_rgb
from studio.editing.damage import DEFAULT_SENSITIVITY, detect_damage
from studio.errors import StudioError
from studio.metrics import agreement

PAPER = np.array([238, 234, 222], np.float32)  # the white of a print's paper base (RGB)


def true_damage(damaged: np.ndarray, clean: np.ndarray, threshold: int = 30) -> np.ndarray:
    """uint8 mask of where a damaged photo (uint8 RGB) differs from its clean version by more than threshold
    levels (0..255) on any channel: the hand-made truth the benchmarks score against."""
    if damaged.shape != clean.shape:
        raise StudioError(f"the clean version is {clean.shape[1]}x{clean.shape[0]}, "
                          f"the damaged one {damaged.shape[1]}x{damaged.shape[0]}")
    diff = np.abs(damaged.astype(np.int16) - clean.astype(np.int16)).max(-1)
    return np.where(diff > threshold, 255, 0).astype(np.uint8)


def _curve(rng: np.random.Generator, w: int, h: int, length: float) -> np.ndarray:
    """A gently bending polyline of about `length` px starting somewhere in the picture."""
    p = np.array([rng.uniform(0, w), rng.uniform(0, h)])
    heading = rng.uniform(0, 2 * np.pi)
    points = [p.copy()]
    step = 4.0
    for _ in range(int(length / step)):
        heading += rng.normal(0, 0.06)
        p = p + step * np.array([np.cos(heading), np.sin(heading)])
        points.append(p.copy())
    return np.array(points)


def _draw(layer: np.ndarray, points: np.ndarray, thickness: int) -> None:
    shift = 4
    pts = np.round(points * (1 << shift)).astype(np.int32)
    cv2.polylines(layer, [pts], False, 1.0, thickness, cv2.LINE_AA, shift)


def synthetic_damage(rgb: np.ndarray, seed: int) -> np.ndarray:
    """The photo (uint8 RGB) with scratches, specks and a crease drawn on it, reproducibly by seed."""
    rng = np.random.default_rng(seed)
    h, w = rgb.shape[:2]
    side = max(h, w)
    out = rgb.astype(np.float32)

    def paint(layer: np.ndarray, colour, opacity: float = 1.0) -> None:
        a = np.clip(layer, 0, 1)[..., None] * opacity
        out[...] = out * (1 - a) + np.asarray(colour, np.float32) * a

    for _ in range(rng.integers(2, 5)):  # bright scratches and tears: the paper shows through
        layer = np.zeros((h, w), np.float32)
        _draw(layer, _curve(rng, w, h, rng.uniform(0.15, 0.6) * side), int(rng.integers(1, 4)))
        paint(layer, PAPER * rng.uniform(0.97, 1.07))
    for _ in range(rng.integers(1, 4)):  # dark scratches in the emulsion
        layer = np.zeros((h, w), np.float32)
        _draw(layer, _curve(rng, w, h, rng.uniform(0.15, 0.5) * side), int(rng.integers(1, 3)))
        paint(layer, rng.uniform(10, 50, 3))
    specks = np.zeros((h, w), np.float32), np.zeros((h, w), np.float32)
    for _ in range(rng.integers(20, 60)):  # dust: mostly dark, some white
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.circle(specks[int(rng.random() < 0.3)], centre, int(rng.integers(1, 4)), 1.0, -1, cv2.LINE_AA)
    paint(specks[0], (25, 22, 20))
    paint(specks[1], PAPER)
    # A crease: a straight fold across the print, a light ridge beside its shadow, half opaque.
    a, b = np.array([0.0, rng.uniform(0, h)]), np.array([float(w), rng.uniform(0, h)])
    normal = np.array([-(b - a)[1], (b - a)[0]]) / np.linalg.norm(b - a)
    ridge, shadow = np.zeros((h, w), np.float32), np.zeros((h, w), np.float32)
    _draw(ridge, np.stack([a, b]), 2)
    _draw(shadow, np.stack([a + 2 * normal, b + 2 * normal]), 1)
    paint(ridge, PAPER, 0.6)
    paint(shadow, (30, 28, 25), 0.5)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _cases(args) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(set, name, damaged, truth) for every pair and every synthetic photo."""
    cases = []
    for damaged_path, clean_path in args.pair or []:
        damaged, clean = read_rgb(Path(damaged_path)), read_rgb(Path(clean_path))
        cases.append(("scans", Path(damaged_path).name, damaged, true_damage(damaged, clean)))
    if args.photos:
        files = list_images(args.photos)[-args.last:]
        for i, p in enumerate(files):
            clean = read_rgb(p)
            damaged = synthetic_damage(clean, seed=args.seed + i)
            cases.append(("synthetic", p.name, damaged, true_damage(damaged, clean)))
    if not cases:
        raise StudioError("give --pair DAMAGED CLEAN and/or --photos FOLDER")
    return cases


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="studio bench damage", description=__doc__.split("\n\n")[0])
    p.add_argument("--pair", nargs=2, action="append", metavar=("DAMAGED", "CLEAN"),
                   help="a damaged scan and its restored version (repeatable)")
    p.add_argument("--photos", type=Path, help="clean photos to draw synthetic damage on")
    p.add_argument("--last", type=int, default=8, help="use the last N photos of --photos in name order")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic damage (photo i gets seed + i)")
    p.add_argument("--sensitivity", type=float, action="append",
                   help=f"detector sensitivity 0..1 (repeatable; default {DEFAULT_SENSITIVITY})")
    p.add_argument("--no-tears", action="store_true", help="leave wide white areas (tears) out of the proposal")
    p.add_argument("--save-dir", type=Path, help="write each damaged image, its truth and the proposed mask here")
    p.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = p.parse_args(argv)
    if args.last < 1:
        raise StudioError("--last must be 1 or more")
    sensitivities = args.sensitivity or [DEFAULT_SENSITIVITY]
    cases = _cases(args)
    if args.save_dir:
        args.save_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    print("| sensitivity | set | image | IoU | precision | recall | proposed % | damage % |")
    print("|---|---|---|---|---|---|---|---|")
    for s in sensitivities:
        rows: dict[str, dict] = {}
        for kind, name, damaged, truth in cases:
            mask = detect_damage(damaged, s, tears=not args.no_tears)
            rows.setdefault(kind, {})[name] = a = agreement(mask, truth)
            print(f"| {s:g} | {kind} | {name} | {a['iou']:.3f} | {a['precision']:.3f} | {a['recall']:.3f} | "
                  f"{a['mask_fraction'] * 100:.2f} | {a['damage_fraction'] * 100:.2f} |")
            if args.save_dir:
                stem = Path(name).stem
                cv2.imwrite(str(args.save_dir / f"{stem}-damaged.png"), damaged[..., ::-1])
                cv2.imwrite(str(args.save_dir / f"{stem}-truth.png"), truth)
                cv2.imwrite(str(args.save_dir / f"{stem}-mask-{s:g}.png"), mask)
        results[f"{s:g}"] = {}
        for kind, images in rows.items():
            mean = {k: float(np.mean([r[k] for r in images.values()])) for k in ("iou", "precision", "recall")}
            print(f"| {s:g} | {kind} | **mean of {len(images)}** | {mean['iou']:.3f} | {mean['precision']:.3f} | "
                  f"{mean['recall']:.3f} | | |")
            results[f"{s:g}"][kind] = {"images": images, "mean": mean}
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
