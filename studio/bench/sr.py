"""`studio bench sr`: 4x super-resolution quality (literature protocol) and speed.

    studio bench sr --hr ../shared/data/sr/Set5 --model span-x4 --model srgan
    studio bench sr --hr ../shared/data/faces/celebahq/256 --last 100 --model face-sr-x4
    studio bench sr --speed --model srgan                 # 512x512 -> 2048x2048
    studio bench sr --large 4000x3000 --model srgan       # memory check on a big photo

Quality: each HR image is cropped to a multiple of 4, made LR by antialiased bicubic
(Pillow BICUBIC, as MATLAB's imresize), upscaled by bicubic (Pillow) and by each model,
and scored on BT.601 Y with 4 pixels shaved per border; SSIM with an 11x11 Gaussian
window of sigma 1.5 (studio/metrics.py); beside them the detail ratio (sharpness) and the
colour shift from bicubic (metrics.colour_shift). Speed: median of 3 runs after a warm-up; peak
memory is the process's peak resident set (model and image included).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
from PIL import Image

from studio.catalogue import UpscaleOptions
from studio.data.images import bicubic_down, bicubic_up, find_images, read_rgb
from studio.errors import StudioError
from studio.metrics import colour_shift, crop_to_multiple, detail_ratio, sr_scores

SCALE = 4


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1 << 20)  # Linux: KiB


def load_upscaler(name: str, args):
    from studio.devices import pick_device
    from studio.engines.upscale import Upscaler

    engine = Upscaler(name, device=pick_device(args.device))
    engine.options = UpscaleOptions(tile=args.tile)  # what every run of this bench uses
    return engine


def quality(args) -> dict:
    files = find_images([args.hr])
    if args.last:
        files = files[-args.last :]
    hrs = [crop_to_multiple(read_rgb(p), SCALE) for p in files]
    engines = {m: load_upscaler(m, args) for m in args.model}
    rows: dict[str, list] = {"bicubic": []}
    for m in engines:
        rows[m] = []
    per_image = []
    for p, hr8 in zip(files, hrs):
        hr = hr8.astype(np.float64) / 255.0
        lr8 = bicubic_down(hr8, SCALE)
        t = time.perf_counter()
        bic = bicubic_up(lr8, SCALE)
        scores = {"bicubic": (*sr_scores(bic, hr), time.perf_counter() - t, detail_ratio(bic, hr), 0.0)}
        for m, eng in engines.items():
            t = time.perf_counter()
            out = eng.run(lr8.astype(np.float32) / 255.0, None, eng.options)
            scores[m] = (*sr_scores(out, hr), time.perf_counter() - t, detail_ratio(out, hr), colour_shift(out, bic))
        for k, v in scores.items():
            rows[k].append(v)
        per_image.append((p.name, scores))
    if args.per_image:
        for name, scores in per_image:
            print(f"  {name:24s} " + "  ".join(f"{k} {v[0]:.2f}/{v[1]:.4f}" for k, v in scores.items()))
    print(f"{len(hrs)} images from {args.hr}{f' (last {args.last})' if args.last else ''}, 4x, Y channel, 4-px border shaved")
    print(f"{'method':16s} {'PSNR dB':>8s} {'SSIM':>7s} {'detail':>7s} {'shift':>6s} {'s/image':>8s}   "
          "(detail: fine detail vs the original, 1 = as much; shift: colour change from bicubic in 8-bit "
          "levels, detail blurred away)")
    summary = {}
    for k, vals in rows.items():
        a = np.mean(vals, axis=0)
        summary[k] = {"psnr": round(float(a[0]), 2), "ssim": round(float(a[1]), 4), "detail": round(float(a[3]), 2),
                      "colour_shift": round(float(a[4]), 2), "seconds": round(float(a[2]), 3)}
        print(f"{k:16s} {a[0]:8.2f} {a[1]:7.4f} {a[3]:7.2f} {a[4]:6.2f} {a[2]:8.3f}")
    return summary


def crop_grid(args, out_path: Path) -> None:
    """One row per HR image: bicubic | each model | original, the same crop (centre, or the row's
    --crop-at), enlarged --crop-zoom times (1 = at 100 %)."""
    from studio.imageio import Picture, save_image

    files = find_images([args.hr])[-args.last :] if args.last else find_images([args.hr])
    engines = {m: load_upscaler(m, args) for m in args.model}
    rows = []
    crop, zoom = args.crop_size, args.crop_zoom
    for row, p in enumerate(files[: args.crop_rows]):
        hr8 = crop_to_multiple(read_rgb(p), SCALE)
        lr8 = bicubic_down(hr8, SCALE)
        h, w = hr8.shape[:2]
        c = min(crop, h, w)
        y, x = (h - c) // 2, (w - c) // 2
        if args.crop_at:
            x, y = (int(v) for v in args.crop_at[min(row, len(args.crop_at) - 1)].split(","))
            x, y = max(0, min(x, w - c)), max(0, min(y, h - c))
        panels = [bicubic_up(lr8, SCALE)] + [e.run(lr8.astype(np.float32) / 255, None, e.options) for e in engines.values()]
        panels.append(hr8.astype(np.float32) / 255)
        tiles = [np.kron(pn[y : y + c, x : x + c], np.ones((zoom, zoom, 1), np.float32)) for pn in panels]
        gap = np.ones((c * zoom, 4, 3), np.float32)
        rows.append(np.concatenate([t for tile in tiles for t in (tile, gap)][:-1], axis=1))
    gap = np.ones((4, rows[0].shape[1], 3), np.float32)
    grid = np.concatenate([r for row in rows for r in (row, gap)][:-1], axis=0)
    save_image(out_path, Picture(np.clip(grid, 0, 1)), overwrite=True)
    print(f"wrote {out_path}: columns bicubic, {', '.join(engines)}, original")


def _test_image(w: int, h: int) -> np.ndarray:
    """A deterministic photo-like test image (smooth shapes plus fine texture)."""
    rng = np.random.default_rng(0)
    small = rng.random((max(2, h // 64), max(2, w // 64), 3)).astype(np.float32)
    img = np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize((w, h), Image.BICUBIC), np.float32) / 255
    return np.clip(img + rng.normal(0, 0.03, img.shape).astype(np.float32), 0, 1)


def speed(args, w: int, h: int, runs: int) -> dict:
    out = {}
    img = _test_image(w, h)
    for m in args.model:
        eng = load_upscaler(m, args)
        if runs > 1:
            eng.run(img[:64, :64], None, eng.options)  # warm-up: oneDNN picks its kernels
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            res = eng.run(img, None, eng.options)
            times.append(time.perf_counter() - t)
        med = sorted(times)[len(times) // 2]
        out[m] = {"seconds": round(med, 2), "peak_rss_gb": round(peak_rss_gb(), 2), "tile": eng.fitted_tiles.get(args.tile, args.tile)}
        print(f"{m:16s} {w}x{h} -> {res.shape[1]}x{res.shape[0]}: {med:.2f} s (median of {runs}), "
              f"peak memory {peak_rss_gb():.2f} GB, device {eng.device}", flush=True)
        del res
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="studio bench sr", description=__doc__.split("\n\n")[0])
    p.add_argument("--hr", type=Path, help="folder of HR images to score (e.g. Set5)")
    p.add_argument("--last", type=int, default=0, help="use only the last N images by name (a trainer's held-out files)")
    p.add_argument("--model", action="append", default=None, help="checkpoint name or file; repeat for several (default: span-x4, srgan)")
    p.add_argument("--speed", action="store_true", help="time 512x512 -> 2048x2048")
    p.add_argument("--large", metavar="WxH", help="upscale one synthetic image of this size once (memory check)")
    p.add_argument("--crops", type=Path, help="write a crop comparison grid (bicubic / models / original) here")
    p.add_argument("--crop-rows", type=int, default=3, help="images in the crop grid")
    p.add_argument("--crop-at", action="append", default=None,
                   help="x,y of the crop's top-left corner in HR pixels (default: centre); repeat for each row in turn")
    p.add_argument("--crop-size", type=int, default=96, help="crop side in HR pixels")
    p.add_argument("--crop-zoom", type=int, default=2, help="enlargement of the crops (1 = at 100 %%)")
    p.add_argument("--per-image", action="store_true", help="also print each image's scores")
    p.add_argument("--tile", type=int, default=None, help="tile size (default: from free memory)")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    return p


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    if not (args.hr or args.speed or args.large):
        raise StudioError("give --hr DIR, --speed or --large WxH")
    args.model = args.model or ["span-x4", "srgan"]
    if args.crop_size < 8 or args.crop_zoom < 1:
        raise StudioError("--crop-size must be 8 or more and --crop-zoom 1 or more")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    report: dict = {}
    if args.hr:
        report["quality"] = quality(args)
    if args.crops:
        if not args.hr:
            raise StudioError("--crops needs --hr")
        crop_grid(args, args.crops)
    if args.speed:
        report["speed_512"] = speed(args, 512, 512, runs=3)
    if args.large:
        try:
            w, h = (int(v) for v in args.large.lower().split("x"))
        except ValueError:
            raise StudioError(f"--large wants WxH, got {args.large!r}") from None
        report["large"] = speed(args, w, h, runs=1)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
