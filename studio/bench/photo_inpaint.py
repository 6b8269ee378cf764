"""`studio bench inpaint --photos DIR`: photo inpainting quality and speed, per hole size.

    studio bench inpaint --photos ../shared/data/photos/bsds500/test --masks ../shared/data/masks/irregular
    studio bench inpaint --photos ... --masks ... --grid grid.jpg --json out.json
    studio bench inpaint --photos ... --speed          # 1 MP with 10 % scratches, 2 MP with a 10 % object

The photos are the trainer's validation photos (the last --holdout of the folder by name),
centre-cropped to --size; each mask bin pairs every photo with one of that bin's held-out
masks (the last --mask-holdout by name), so nothing here was trained on. Without --masks the
holes are generated brush strokes of each bin's coverage. For each bin and method: PSNR
inside the hole and over the whole image, the hole's detail ratio (mean |Laplacian| of the
result's luma over the original's, inside the hole: blur scores near 0, the original's texture
1; PSNR alone rewards blur), the texture distance (the sliced Wasserstein distance between
7x7 Laplacian-pyramid patches of the fills and of the true holes, pooled over the bin's photos,
as Karras et al. 2018 measure realism; lower is closer) and seconds per image. Methods: the
photo engine (the net on its crops, with `--detail` of photo texture synthesised along its
fill), the net alone (`net`: detail 0), PatchMatch (`patchmatch`: the same coarse-to-fine patch
synthesis started from Telea's fill with no net guide, as in Wexler et al. 2007 with Barnes et
al. 2009's search), OpenCV Telea and Navier-Stokes.
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
from studio.metrics import detail_ratio, psnr, pyramid_patches, sliced_wasserstein, swd_levels

METHODS = ("photo", "net", "patchmatch", "telea", "ns")
GRID_ROWS = ("telea", "patchmatch", "net", "photo")
SWD_PATCHES = 128  # patches per pyramid level and image (Karras et al. 2018)


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
    if name in ("photo", "net"):
        from studio.engines.inpaint_photo import PhotoInpainter

        engine = PhotoInpainter(model, device=device)
        if name == "net":
            options = InpaintOptions(detail=0.0)
    elif name == "patchmatch":
        return patchmatch
    else:
        engine = ClassicInpainter(method="telea" if name == "telea" else "ns")
    return lambda image, mask: engine.run(image, mask, options)


def patchmatch(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Classic patch-based inpainting: the photo engine's texture synthesis with no net (its
    coarsest level starts from Telea's fill and the guide term is off)."""
    from studio.engines.texture import synthesise

    hole = mask > 0.5
    telea = ClassicInpainter(method="telea").run(image, mask, InpaintOptions())
    return synthesise(image, hole, telea, guide_weight=0.0)


def evaluate(engines: dict, photos: list[np.ndarray], masks: list[np.ndarray], seed: int = 0):
    """{method: (hole PSNR, whole PSNR, hole detail ratio, texture distance, s/image)} and
    {method: outputs}."""
    results, outputs = {}, {}
    rng = np.random.default_rng(seed)
    levels = swd_levels(photos[0].shape[:2])
    truth = [pyramid_patches(img, m > 0.5, levels, SWD_PATCHES, rng) for img, m in zip(photos, masks)]
    for name, engine in engines.items():
        hole_p, whole_p, detail, secs, outs, patches = [], [], [], [], [], []
        for img, m in zip(photos, masks):
            damaged = img * (1 - m[..., None])  # the hole's pixels are gone
            t = time.perf_counter()
            out = engine(damaged, m)
            secs.append(time.perf_counter() - t)
            hole_p.append(psnr(out, img, peak=1.0, where=m > 0.5))
            whole_p.append(psnr(out, img, peak=1.0))
            detail.append(detail_ratio(out, img, m > 0.5))
            patches.append(pyramid_patches(out, m > 0.5, levels, SWD_PATCHES, rng))
            outs.append(out)
        results[name] = dict(psnr_hole=float(np.mean(hole_p)), psnr_whole=float(np.mean(whole_p)),
                             detail_hole=float(np.mean(detail)), texture=sliced_wasserstein(pool_levels(patches), pool_levels(truth)),
                             sec_per_image=float(np.mean(secs)))
        outputs[name] = outs
    return results, outputs


def pool_levels(per_image: list[list[np.ndarray]]) -> list[np.ndarray]:
    """Per-level patch sets of many images, concatenated level by level."""
    return [np.concatenate([p[k] for p in per_image]) for k in range(len(per_image[0]))]


def save_grid(path: Path, photos, masks, outputs, columns: int = 6, methods=GRID_ROWS) -> None:
    """Rows: masked input (holes white) / each of `methods` that ran (Telea / PatchMatch / net /
    photo) / original; one column per photo, at 100 %."""
    rows = [[p * (1 - m[..., None]) + m[..., None] for p, m in zip(photos, masks)]]
    rows += [outputs[k] for k in methods if k in outputs]
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


def object_mask(h: int, w: int, coverage: float, rng: np.random.Generator) -> np.ndarray:
    """One object-like blob (a wobbly ellipse) covering `coverage` of an h x w image."""
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    r = 1 + 0.15 * np.sin(3 * t + rng.uniform(0, 6)) + 0.1 * np.sin(5 * t + rng.uniform(0, 6))
    a = np.sqrt(coverage * h * w / np.pi / np.mean(r ** 2) / 0.8)  # semi-axes a and 0.8 a
    pts = np.stack([w / 2 + a * r * np.cos(t), h / 2 + 0.8 * a * r * np.sin(t)], 1)
    m = np.zeros((h, w), np.uint8)
    cv2.fillPoly(m, [np.round(pts).astype(np.int32)], 1)
    return m.astype(np.float32)


def speed(engines: dict, photo: np.ndarray, seed: int, repeats: int = 3) -> dict[str, dict[str, float]]:
    """Best and mean seconds for (a) a 1024x1024 photo with a 10 % mask of scratches all over it
    (thin strokes spread wide: one region as large as the photo) and (b) a 1920x1080 (2 MP) photo
    with one object covering 10 % of it (object removal: the largest hole to texture)."""
    img = cv2.resize(centre_crop(photo, min(photo.shape[:2])), (1024, 1024), interpolation=cv2.INTER_CUBIC)
    wide = cv2.resize(photo, (1920, 1080), interpolation=cv2.INTER_CUBIC)
    cases = {"scratches_1024_10pct": (np.clip(img, 0, 1).astype(np.float32),
                                      brush_strokes(1024, np.random.default_rng(seed), (0.1, 0.1), width=(0.01, 0.03))),
             "object_2mp_10pct": (np.clip(wide, 0, 1).astype(np.float32),
                                  object_mask(1080, 1920, 0.1, np.random.default_rng(seed)))}
    warm = np.zeros((128, 128), np.float32)
    warm[48:80, 48:80] = 1
    out = {}
    for name, engine in engines.items():
        engine(img[:128, :128], warm)  # first-call costs (allocations, kernels) are not the engine's speed
        for case, (picture, m) in cases.items():
            times = []
            for _ in range(repeats):
                t = time.perf_counter()
                engine(picture, m)
                times.append(time.perf_counter() - t)
            out.setdefault(case, {})[name] = {"best_s": min(times), "mean_s": float(np.mean(times))}
            print(f"  {name:10s} {case} ({m.mean() * 100:.1f} % mask): best {min(times):.3f} s, "
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
                   help="photo engine: share of synthesised photo texture in the fill (default: the engine's)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--speed", action="store_true", help="also time a 1024x1024 photo with 10 %% scratches and a 2 MP one with a 10 %% object")
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
    print("\n| holes | method | PSNR hole (dB) | PSNR image (dB) | hole detail | texture distance | s/image |"
          "\n|---|---|---|---|---|---|---|")
    for b in bins:
        res, outs = evaluate(engines, photos, masks[b], args.seed)
        report["bins"][BIN_LABELS[b]] = res
        for name, r in res.items():
            print(f"| {BIN_LABELS[b]} | {name} | {r['psnr_hole']:.2f} | {r['psnr_whole']:.2f} | "
                  f"{r['detail_hole']:.2f} | {r['texture']:.1f} | {r['sec_per_image']:.3f} |", flush=True)
        # The grid takes photo i with the mask of bin i % len(bins): every hole size shows.
        for i in range(len(photos)):
            if i % len(bins) == bins.index(b):
                grid_masks.append((i, masks[b][i]))
                for name in methods:
                    grid_outputs[name].append((i, outs[name][i]))
    mean = {name: {k: float(np.mean([report["bins"][BIN_LABELS[b]][name][k] for b in bins]))
                   for k in ("psnr_hole", "psnr_whole", "detail_hole", "texture", "sec_per_image")} for name in methods}
    report["mean"] = mean
    for name, r in mean.items():
        print(f"| all | {name} | {r['psnr_hole']:.2f} | {r['psnr_whole']:.2f} | {r['detail_hole']:.2f} | "
              f"{r['texture']:.1f} | {r['sec_per_image']:.3f} |")
    if args.speed:
        print("\nspeed:")
        report["speed"] = speed(engines, read_rgb(files[0]).astype(np.float32) / 255, args.seed)
    if args.grid:
        order = sorted(range(len(grid_masks)), key=lambda k: grid_masks[k][0])
        idx = [grid_masks[k][0] for k in order]
        save_grid(args.grid, [photos[i] for i in idx], [grid_masks[k][1] for k in order],
                  {name: [grid_outputs[name][k][1] for k in order] for name in methods})
        print(f"grid: {args.grid}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0
