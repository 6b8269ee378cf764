"""`studio bench inpaint --photos DIR`: photo inpainting quality and speed, per hole size.

    studio bench inpaint --photos ../shared/data/photos/bsds500/test --masks ../shared/data/masks/irregular
    studio bench inpaint --photos ... --masks ... --grid grid.jpg --json out.json
    studio bench inpaint --photos ... --speed          # a 1024x1024 photo with a 10 % mask

The photos are the trainer's validation photos (the last --holdout of the folder by name),
centre-cropped to --size; each mask bin pairs every photo with one of that bin's held-out
masks (the last --mask-holdout by name), so nothing here was trained on. Without --masks the
holes are generated brush strokes of each bin's coverage. For each bin and method: PSNR
inside the hole and over the whole image, the hole's detail ratio (mean |Laplacian| of the
result's luma over the original's, inside the hole: blur scores near 0, the original's texture
1; PSNR alone rewards blur) and seconds per image. Methods: the photo engine (the net on its
crops, with `--detail` of matched photo texture), OpenCV Telea and Navier-Stokes.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from studio.data.images import centre_crop, held_out, read_rgb
from studio.data.masks import BIN_LABELS, brush_strokes, fit_mask, read_mask, split_masks
from studio.catalogue import InpaintOptions, tool
from studio.engines.inpaint_classic import ClassicInpainter
from studio.metrics import detail_ratio, psnr

METHODS = ("photo", "telea", "ns")
GRID_ROWS = ("telea", "ns", "photo")


def bin_masks(masks: Path | None, bins: list[int], n: int, size: int, holdout: int, seed: int) -> dict[int, list[np.ndarray]]:
    """n masks per bin: held-out files in name order (cycled), or generated strokes."""
    out = {}
    if masks is not None:
        _, val = split_masks(masks, holdout)
        for b in bins:
            if not val.get(b):
                raise SystemExit(f"no held-out masks of bin {b} ({BIN_LABELS[b]}) in {masks}")
            out[b] = [fit_mask(read_mask(val[b][i % len(val[b])]), size) for i in range(n)]
    else:
        for b in bins:
            cov = (max(0.01, b / 10), b / 10 + 0.1)
            out[b] = [brush_strokes(size, np.random.default_rng((seed, b, i)), cov) for i in range(n)]
    return out


def make_engine(name: str, model: str, device: str, detail: float | None = None):
    """fill(image, mask) -> image for one method."""
    options = InpaintOptions() if detail is None else InpaintOptions(detail=detail)
    if name == "photo":
        from studio.engines.inpaint_photo import PhotoInpainter

        engine = PhotoInpainter(model, device=device)
    else:
        engine = ClassicInpainter(method="telea" if name == "telea" else "ns")
    return lambda image, mask: engine.run(image, mask, options)


def evaluate(engines: dict, photos: list[np.ndarray], masks: list[np.ndarray]):
    """{method: (hole PSNR, whole PSNR, hole detail ratio, s/image)} and {method: outputs}."""
    results, outputs = {}, {}
    for name, engine in engines.items():
        hole_p, whole_p, detail, secs, outs = [], [], [], [], []
        for img, m in zip(photos, masks):
            damaged = img * (1 - m[..., None])  # the hole's pixels are gone
            t = time.perf_counter()
            out = engine(damaged, m)
            secs.append(time.perf_counter() - t)
            hole_p.append(psnr(out, img, peak=1.0, where=m > 0.5))
            whole_p.append(psnr(out, img, peak=1.0))
            detail.append(detail_ratio(out, img, m > 0.5))
            outs.append(out)
        results[name] = dict(psnr_hole=float(np.mean(hole_p)), psnr_whole=float(np.mean(whole_p)),
                             detail_hole=float(np.mean(detail)), sec_per_image=float(np.mean(secs)))
        outputs[name] = outs
    return results, outputs


def save_grid(path: Path, photos, masks, outputs, columns: int = 6) -> None:
    """Rows: masked input / Telea / NS / photo / original; one column per photo."""
    rows = [[p * (1 - m[..., None]) + m[..., None] for p, m in zip(photos, masks)]]
    rows += [outputs[k] for k in GRID_ROWS if k in outputs]
    rows.append(photos)
    s, pad = photos[0].shape[0], 4
    cols = min(columns, len(photos))
    canvas = np.ones((len(rows) * (s + pad) + pad, cols * (s + pad) + pad, 3), np.float32)
    for r, row in enumerate(rows):
        for c, img in enumerate(row[:cols]):
            y, x = pad + r * (s + pad), pad + c * (s + pad)
            canvas[y:y + s, x:x + s] = img
    path.parent.mkdir(parents=True, exist_ok=True)
    bgr = cv2.cvtColor(np.round(np.clip(canvas, 0, 1) * 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), bgr):
        raise SystemExit(f"cannot write {path}")


def speed(engines: dict, photo: np.ndarray, seed: int, repeats: int = 3) -> dict[str, float]:
    """Best and mean seconds for a 1024x1024 photo with a 10 % mask of scratches all over it
    (thin strokes spread wide: one region as large as the photo, the slow case)."""
    img = cv2.resize(centre_crop(photo, min(photo.shape[:2])), (1024, 1024), interpolation=cv2.INTER_CUBIC)
    img = np.clip(img, 0, 1).astype(np.float32)
    m = brush_strokes(1024, np.random.default_rng(seed), (0.1, 0.1), width=(0.01, 0.03))
    warm = np.zeros((128, 128), np.float32)
    warm[48:80, 48:80] = 1
    out = {}
    for name, engine in engines.items():
        engine(img[:128, :128], warm)  # first-call costs (allocations, kernels) are not the engine's speed
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            engine(img, m)
            times.append(time.perf_counter() - t)
        out[name] = {"best_s": min(times), "mean_s": float(np.mean(times))}
        print(f"  {name:6s} 1024x1024, {m.mean() * 100:.1f} % mask: best {min(times):.3f} s, "
              f"mean {np.mean(times):.3f} s", flush=True)
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="studio bench inpaint --photos", description=__doc__.split("\n\n")[0])
    p.add_argument("--photos", type=Path, required=True, help="folder of photos (its last --holdout by name are used)")
    p.add_argument("--holdout", type=int, default=50, help="the trainer's --val-holdout; 0 = every photo")
    p.add_argument("--n", type=int, default=50, help="photos per bin")
    p.add_argument("--masks", type=Path, default=None, help="irregular mask folder (else generated strokes)")
    p.add_argument("--mask-holdout", type=int, default=50, help="the trainer's --mask-holdout")
    p.add_argument("--bins", default="2,3,4,5", help="coverage bins: 0 = 1-10 %%, 2 = 20-30 %% .. 5 = 50-60 %%")
    p.add_argument("--size", type=int, default=256, help="centre crop size")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--model", default=tool("inpaint").model, help="checkpoint of the photo engine")
    p.add_argument("--detail", type=float, default=None,
                   help="photo engine: share of matched photo texture added to the fill (default: the engine's)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--speed", action="store_true", help="also time a 1024x1024 photo with a 10 %% mask")
    p.add_argument("--grid", type=Path, default=None, help="write a comparison picture here (.jpg or .png)")
    p.add_argument("--json", type=Path, default=None, help="write the figures here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if set(methods) - set(METHODS):
        raise SystemExit(f"unknown methods {sorted(set(methods) - set(METHODS))}; choose from {METHODS}")
    bins = [int(b) for b in args.bins.split(",") if b.strip()]
    if not bins or min(bins) < 0 or max(bins) >= len(BIN_LABELS):
        raise SystemExit(f"--bins are numbers 0..{len(BIN_LABELS) - 1}")
    files = held_out(args.photos, args.holdout or 10**9)[:args.n]
    if not files:
        raise SystemExit(f"no photos in {args.photos}")
    photos = [centre_crop(read_rgb(p), args.size).astype(np.float32) / 255 for p in files]
    masks = bin_masks(args.masks, bins, len(photos), args.size, args.mask_holdout, args.seed)
    engines = {m: make_engine(m, args.model, args.device, args.detail) for m in methods}
    print(f"{len(photos)} photos from {args.photos} (last {args.holdout or 'all'}), {args.size}px centre crops, "
          f"masks {args.masks or 'generated strokes'}, {torch.get_num_threads()} threads", flush=True)

    report: dict = {"n": len(photos), "size": args.size, "masks": str(args.masks or "generated"), "bins": {}}
    grid_masks, grid_outputs = [], {m: [] for m in methods}
    print("\n| holes | method | PSNR hole (dB) | PSNR image (dB) | hole detail | s/image |\n|---|---|---|---|---|---|")
    for b in bins:
        res, outs = evaluate(engines, photos, masks[b])
        report["bins"][BIN_LABELS[b]] = res
        for name, r in res.items():
            print(f"| {BIN_LABELS[b]} | {name} | {r['psnr_hole']:.2f} | {r['psnr_whole']:.2f} | "
                  f"{r['detail_hole']:.2f} | {r['sec_per_image']:.3f} |", flush=True)
        # The grid takes photo i with the mask of bin i % len(bins): every hole size shows.
        for i in range(len(photos)):
            if i % len(bins) == bins.index(b):
                grid_masks.append((i, masks[b][i]))
                for name in methods:
                    grid_outputs[name].append((i, outs[name][i]))
    mean = {name: {k: float(np.mean([report["bins"][BIN_LABELS[b]][name][k] for b in bins]))
                   for k in ("psnr_hole", "psnr_whole", "detail_hole", "sec_per_image")} for name in methods}
    report["mean"] = mean
    for name, r in mean.items():
        print(f"| all | {name} | {r['psnr_hole']:.2f} | {r['psnr_whole']:.2f} | {r['detail_hole']:.2f} | "
              f"{r['sec_per_image']:.3f} |")
    if args.speed:
        print("\nspeed:")
        report["speed_1024_10pct"] = speed(engines, read_rgb(files[0]).astype(np.float32) / 255, args.seed)
    if args.grid:
        order = sorted(range(len(grid_masks)), key=lambda k: grid_masks[k][0])
        idx = [grid_masks[k][0] for k in order]
        save_grid(args.grid, [photos[i] for i in idx], [grid_masks[k][1] for k in order],
                  {name: [grid_outputs[name][k][1] for k in order] for name in methods})
        print(f"grid: {args.grid}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0
