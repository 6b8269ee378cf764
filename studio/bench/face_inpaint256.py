"""`studio bench inpaint --faces DIR --size 256`: face restoration at 256 px.

    studio bench inpaint --faces ../shared/data/faces/celebahq/256 --size 256 --masks center
    studio bench inpaint --faces ... --size 256 --masks ../shared/data/masks/irregular --mask-bins 04,06,08,10
    studio bench inpaint --faces ... --size 256 --methods face,face-old,telea --grid grid.jpg --json out.json

The faces are the face refiner's held-out ones (the last --holdout files in numeric name
order, --n of them evenly spread), read at 256x256 and already framed, so the face engines
get the whole square as their face box. Holes: the centre 128x128 square, or masks of a folder
(white = hole; names start with a 2-digit coverage bin, --mask-bins 04,06,08,10 = 20-60 %)
resized to 256 nearest and drawn with --seed. The damaged input has the hole's pixels zeroed.

Methods: `face` (the face engine as shipped: the refiner when installed), `face-old` (the face
engine without refiner: face SR and Poisson blend), `photo` (the photo engine), `patchmatch`
(texture synthesis from Telea's fill, no net), OpenCV's `telea` and `fsr` (xphoto's fast
frequency-selective reconstruction). Figures per method, means over the faces:
- hole PSNR: over the hole's pixels, RGB in [0, 1];
- hole SSIM: Wang et al.'s SSIM (11x11 Gaussian window) of the luma Y over the hole's bounding
  box (exactly the hole for the centre square; irregular holes' boxes include known pixels);
- texture distance: the sliced Wasserstein distance between 7x7 Laplacian-pyramid patches of the
  fills and of the true faces inside the holes, pooled over the faces (Karras et al. 2018; lower is
  closer), with its scale: "real vs real", the true patches of the even faces against those of the
  odd ones in the same holes (half the patches per side, so slightly higher than a perfect fill's);
- seconds per face, models loaded beforehand.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from studio.bench.inpaint import masks_for, pick_faces
from studio.bench.photo_inpaint import SWD_PATCHES, evaluate, make_engine, patchmatch, pool_levels, save_grid
from studio.catalogue import InpaintOptions, tool
from studio.engines.masks import composite
from studio.errors import StudioError
from studio.metrics import pyramid_patches, rgb_to_y, sliced_wasserstein, ssim, swd_levels

SIZE = 256
METHODS = ("face", "face-old", "photo", "telea", "fsr", "patchmatch")
GRID_ROWS = ("face-old", "face", "photo", "telea")
SSIM_RADIUS = 5  # the 11x11 window's: the box is grown by it so SSIM's valid region covers the box


def fsr(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """OpenCV contrib's frequency-selective reconstruction (Genser et al. 2018), fast variant."""
    bgr = cv2.cvtColor(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    valid = np.where(mask > 0.5, 0, 255).astype(np.uint8)  # xphoto's masks mark the known pixels
    out = np.zeros_like(bgr)
    cv2.xphoto.inpaint(bgr, valid, out, cv2.xphoto.INPAINT_FSR_FAST)
    return composite(image, cv2.cvtColor(out, cv2.COLOR_BGR2RGB).astype(np.float32) / 255, mask)


def load_refiner(path: Path | None):
    """The refiner for the `face` method: a checkpoint file, else the installed one ("auto")."""
    if path is None:
        return "auto"
    from studio.checkpoints import load_model
    from studio.engines.face_refine import FaceRefine

    net, info = load_model(str(path), "cpu")
    if info.architecture != "face-refiner":
        raise StudioError(f"--refiner {path} is a {info.architecture}, not a face refiner")
    return FaceRefine(net)


def make_fill(name: str, face_model, seed: int, steps: int | None = None, refiner="auto"):
    """fill(image, mask) -> image for one method; face_model: the loaded 64-px GAN (face methods);
    steps: the face search's step limit (None: the engine's)."""
    if name in ("face", "face-old"):
        from studio.engines.inpaint_face import FaceInpainter

        engine = FaceInpainter(face_model, refiner=refiner if name == "face" else None)
        options = InpaintOptions(seed=seed, box=(0, 0, SIZE, SIZE), steps=steps)  # the faces are already framed
        return lambda image, mask: engine.run(image, mask, options)
    if name == "fsr":
        return fsr
    if name == "patchmatch":
        return patchmatch
    return make_engine(name, tool("inpaint").model, "cpu")


def hole_ssim(out: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    """Luma SSIM over the bounding box of the hole."""
    ys, xs = np.nonzero(mask > 0.5)
    h, w = mask.shape
    y0, y1 = max(ys.min() - SSIM_RADIUS, 0), min(ys.max() + 1 + SSIM_RADIUS, h)
    x0, x1 = max(xs.min() - SSIM_RADIUS, 0), min(xs.max() + 1 + SSIM_RADIUS, w)
    return ssim(rgb_to_y(np.clip(out[y0:y1, x0:x1], 0, 1)), rgb_to_y(truth[y0:y1, x0:x1]))


def real_vs_real(faces: list[np.ndarray], masks: list[np.ndarray], seed: int) -> float:
    """The texture distance between the true holes of the even and of the odd faces."""
    rng = np.random.default_rng(seed)
    levels = swd_levels(faces[0].shape[:2])
    truth = [pyramid_patches(f, m > 0.5, levels, SWD_PATCHES, rng) for f, m in zip(faces, masks)]
    return sliced_wasserstein(pool_levels(truth[0::2]), pool_levels(truth[1::2]))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="studio bench inpaint --size 256", description=__doc__.split("\n\n")[0])
    p.add_argument("--faces", type=Path, required=True, help="folder of faces (read at 256x256)")
    p.add_argument("--size", type=int, choices=(SIZE,), default=SIZE, help="256: this benchmark (64: the 64-px one)")
    p.add_argument("--holdout", type=int, default=100,
                   help="use only the last N files by number (the face refiner's validation faces); 0 = all")
    p.add_argument("--n", type=int, default=20, help="faces to evaluate (evenly spread over the held-out ones)")
    p.add_argument("--masks", default="center", help="'center' (128x128 square) or a folder of masks")
    p.add_argument("--mask-bins", default=None, help="mask file-name prefixes, e.g. 04,06,08,10 for 20-60%% holes")
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma list of {', '.join(METHODS)}")
    p.add_argument("--model", default="dcgan-faces64", help="the face engines' 64-px GAN")
    p.add_argument("--steps", type=int, default=None, help="the face search's step limit (default: the engine's)")
    p.add_argument("--refiner", type=Path, default=None,
                   help="face-refiner checkpoint file for the face method (default: the installed one)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--grid", type=Path, default=None,
                   help="write a picture at 100 %%: masked input / face-old / face / photo / telea / original")
    p.add_argument("--json", type=Path, default=None, help="write the figures here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise StudioError(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")
    if args.n < 2:
        raise StudioError("--n must be at least 2 (the real-vs-real texture distance needs two halves)")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    faces = pick_faces(args.faces, args.holdout, args.n, SIZE)
    masks = masks_for(args.masks, len(faces), args.mask_bins, args.seed, SIZE, cv2.INTER_NEAREST)
    face_model = None
    if {"face", "face-old"} & set(methods):
        from studio.checkpoints import load_model

        face_model, _ = load_model(args.model, "cpu")
    hole_pct = float(np.mean([m.mean() for m in masks]) * 100)
    print(f"{len(faces)} faces at {SIZE}px from {args.faces} (last {args.holdout or 'all'}), masks {args.masks} "
          f"{args.mask_bins or ''} ({hole_pct:.0f} % hole on average), "
          f"{torch.get_num_threads()} threads", flush=True)

    refiner = load_refiner(args.refiner) if "face" in methods else None
    results, outputs = {}, {}
    for name in methods:  # one method at a time, so progress shows; each samples the same patch positions
        fill = make_fill(name, face_model, args.seed, args.steps, refiner)
        res, outs = evaluate({name: fill}, faces, masks, args.seed)
        r = res[name]
        r["ssim_hole"] = float(np.mean([hole_ssim(o, f, m) for o, f, m in zip(outs[name], faces, masks)]))
        r["sec_per_face"] = r.pop("sec_per_image")
        results[name], outputs[name] = r, outs[name]
        print(f"  {name:10s} hole {r['psnr_hole']:6.2f} dB  SSIM {r['ssim_hole']:.3f}  texture {r['texture']:6.1f}  "
              f"{r['sec_per_face']:6.2f} s/face", flush=True)
    reference = real_vs_real(faces, masks, args.seed)

    print("\n| method | PSNR hole (dB) | SSIM hole | texture distance | s/face |\n|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['psnr_hole']:.2f} | {r['ssim_hole']:.3f} | {r['texture']:.1f} | {r['sec_per_face']:.2f} |")
    print(f"| real vs real | | | {reference:.1f} | |")
    if args.grid:
        save_grid(args.grid, faces, masks, outputs, methods=GRID_ROWS)
        print(f"grid: {args.grid}")
    if args.json:
        args.json.write_text(json.dumps(dict(size=SIZE, masks=args.masks, bins=args.mask_bins, n=len(faces),
                                             hole_pct=hole_pct, holdout=args.holdout, seed=args.seed, results=results,
                                             real_vs_real_texture=reference), indent=2))
    return 0
