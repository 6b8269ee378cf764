"""`studio bench inpaint`: face inpainting quality and speed on held-out faces.

    studio bench inpaint --faces ../shared/data/faces/celebahq/64 --holdout 1000 --n 100 --masks center
    studio bench inpaint --faces ... --masks ../shared/data/masks/irregular --mask-bins 06,08,10
    studio bench inpaint --photos DIR --masks DIR ...     # any photo: see studio/bench/photo_inpaint.py
    studio bench inpaint --faces ../shared/data/faces/celebahq/256 --size 256 ...  # see face_inpaint256.py

Compares, on the same faces and masks: the face engine at its defaults ("ours"), the Yeh et al.
style baseline (1500 steps, one random start, no structure loss), and OpenCV's Telea and
Navier-Stokes inpainting. PSNR is over the whole 64x64 image and inside the hole only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from studio.bench.by_size import run_for_size
from studio.data.images import list_images, read_square
from studio.catalogue import InpaintOptions
from studio.engines.inpaint_classic import ClassicInpainter
from studio.engines.latent_search import SearchOptions
from studio.metrics import psnr

METHODS = ("ours", "baseline", "telea", "ns")


def masks_for(spec: str, n: int, bins: str | None, seed: int, size: int = 64,
              interpolation: int = cv2.INTER_AREA) -> list[np.ndarray]:
    """n size x size float masks: the centre square of half the side (32x32 at 64), or drawn from a
    folder of masks (white = hole) and resized with `interpolation`."""
    if spec == "center":
        m = np.zeros((size, size), np.float32)
        m[size // 4:size * 3 // 4, size // 4:size * 3 // 4] = 1
        return [m] * n
    files = sorted(p for p in Path(spec).glob("*.png"))
    if bins:
        prefixes = tuple(b.strip() for b in bins.split(","))
        files = [p for p in files if p.stem.startswith(prefixes)]
    if not files:
        raise SystemExit(f"no masks in {spec} (bins {bins})")
    rng = np.random.default_rng(seed)
    out = []
    for p in rng.choice(files, size=n, replace=len(files) < n):
        m = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
        m = cv2.resize(m, (size, size), interpolation=interpolation)
        out.append((m > 0.5).astype(np.float32))
    return out


def pick_faces(folder: Path, holdout: int, n: int, size: int) -> list[np.ndarray]:
    """n faces evenly spread over the last `holdout` files in numeric name order (the trainers'
    validation faces; 0 = all), as float32 size x size RGB in [0, 1]."""
    files = list_images(folder)
    if holdout:
        files = files[-holdout:]
    idx = np.linspace(0, len(files) - 1, min(n, len(files))).round().astype(int)
    return [read_square(files[i], size) for i in idx]


def make_method(name: str, model, seed: int):
    """fill(image, mask) -> image for one method."""
    from studio.engines.inpaint_face import FaceInpainter

    # The benchmark faces are already framed like training faces.
    options = InpaintOptions(seed=seed, box=(0, 0, 64, 64))
    if name == "ours":
        engine = FaceInpainter(model, upscale=None, refiner=None)  # the search's own fill, scored at 64x64
    elif name == "baseline":
        engine = FaceInpainter(model, search=SearchOptions.baseline(), upscale=None, refiner=None)
    else:
        engine = ClassicInpainter(method="telea" if name == "telea" else "ns")
    return lambda image, mask: engine.run(image, mask, options)


def run(faces: list[np.ndarray], masks: list[np.ndarray], methods, model, seed: int):
    results = {}
    outputs = {}
    for name in methods:
        fill = make_method(name, model, seed)
        whole, hole_p, secs, outs = [], [], [], []
        for img, m in zip(faces, masks):
            damaged = img * (1 - m[..., None])  # the hole's pixels are gone
            t = time.perf_counter()
            out = fill(damaged, m)
            secs.append(time.perf_counter() - t)
            whole.append(psnr(out, img, peak=1.0))
            hole_p.append(psnr(out, img, peak=1.0, where=m > 0.5))
            outs.append(out)
        results[name] = dict(psnr_whole=float(np.mean(whole)), psnr_hole=float(np.mean(hole_p)),
                             sec_per_face=float(np.mean(secs)))
        outputs[name] = outs
        print(f"  {name:9s} whole {results[name]['psnr_whole']:6.2f} dB  hole {results[name]['psnr_hole']:6.2f} dB  "
              f"{results[name]['sec_per_face']:6.3f} s/face", flush=True)
    return results, outputs


def save_grid(path: Path, faces, masks, outputs, columns: int = 8) -> None:
    """Rows: damaged / Telea / NS / baseline / ours / original, for the first `columns` faces."""
    rows = [[f * (1 - m[..., None]) + 0.5 * m[..., None] for f, m in zip(faces, masks)]]
    rows += [outputs[name] for name in ("telea", "ns", "baseline", "ours") if name in outputs]
    rows.append(faces)
    pad = 2
    h = len(rows) * (64 + pad) + pad
    w = columns * (64 + pad) + pad
    canvas = np.ones((h, w, 3), np.float32)
    for r, row in enumerate(rows):
        for c, img in enumerate(row[:columns]):
            y, x = pad + r * (64 + pad), pad + c * (64 + pad)
            canvas[y:y + 64, x:x + 64] = img
    canvas = cv2.resize(canvas, (w * 2, h * 2), interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(path), cv2.cvtColor(np.round(canvas * 255).astype(np.uint8), cv2.COLOR_RGB2BGR))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if any(a == "--photos" or a.startswith("--photos=") for a in argv):
        from studio.bench import photo_inpaint  # the general-photo benchmark has its own options

        return photo_inpaint.main(argv)
    code = run_for_size(argv, "studio bench inpaint", {256: "studio.bench.face_inpaint256"}, 64,
                        "64 (the 64-px face engine's benchmark) or 256 (restoration at 256 px)")
    if code is not None:
        return code
    p = argparse.ArgumentParser(prog="studio bench inpaint", description=__doc__.split("\n\n")[0])
    p.add_argument("--faces", type=Path, required=True,
                   help="folder of face images (resized to 64x64); --photos DIR benchmarks general photos instead")
    p.add_argument("--size", type=int, default=64, choices=(64, 256),
                   help="64: this benchmark; 256: restoration at 256 px (studio/bench/face_inpaint256.py)")
    p.add_argument("--holdout", type=int, default=1000,
                   help="use only the last N files by number (the training script's validation faces); 0 = all")
    p.add_argument("--n", type=int, default=50, help="faces to evaluate (evenly spread over the set)")
    p.add_argument("--masks", default="center", help="'center' (32x32 square) or a folder of masks")
    p.add_argument("--mask-bins", default=None, help="mask file-name prefixes, e.g. 06,08,10 for 30-60%% holes")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--model", default="dcgan-faces64")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--grid", type=Path, default=None, help="write a comparison picture here")
    p.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = p.parse_args(argv)

    import torch

    from studio.checkpoints import load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    faces = pick_faces(args.faces, args.holdout, args.n, 64)
    masks = masks_for(args.masks, len(faces), args.mask_bins, args.seed)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise SystemExit(f"unknown methods {sorted(unknown)}; choose from {METHODS}")
    model = None
    if {"ours", "baseline"} & set(methods):
        model, _ = load_model(args.model, "cpu")
    print(f"{len(faces)} faces from {args.faces} (last {args.holdout or 'all'}), masks {args.masks} "
          f"{args.mask_bins or ''}, {torch.get_num_threads()} threads")
    results, outputs = run(faces, masks, methods, model, args.seed)
    print("\n| method | PSNR whole (dB) | PSNR hole (dB) | s/face |\n|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['psnr_whole']:.2f} | {r['psnr_hole']:.2f} | {r['sec_per_face']:.3f} |")
    if args.grid:
        save_grid(args.grid, faces, masks, outputs)
        print(f"grid: {args.grid}")
    if args.json:
        args.json.write_text(json.dumps(dict(masks=args.masks, bins=args.mask_bins, n=len(faces), results=results), indent=2))
    return 0
