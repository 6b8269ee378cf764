"""Train the photo inpainting generator (PGGAN-style: L1 + global and PatchGAN adversarial).

    studio train photo-inpaint --data ../shared/data/photos/bsds500 ../shared/data/photos/t91 \
        ../shared/data/photos/wallpapers --val ../shared/data/photos/bsds500/test \
        --masks ../shared/data/masks/irregular --out runs/photo-inpaint --threads 2 \
        --max-minutes 45 --export checkpoints/photo-inpaint

Data: random --size crops (a random 1-2x larger square, area-downscaled, turned and flipped)
of every image under --data, except the last --val-holdout files of --val (by name), which
are validation only. Holes: the irregular masks minus the last --mask-holdout of each bin,
brush strokes and boxes (studio/data/masks.py).
Loss: L1 weighted --hole-weight times higher inside the hole, plus, after --adv-after steps,
--adv-weight times the hinge loss of a discriminator with a global and a PatchGAN head that
sees the composited image and the mask. Adam; the learning rate follows a cosine to 1 % over
the run (--max-steps or --max-minutes, whichever ends it first).
Validation: PSNR inside the hole on the held-out photos (256x256 centre crops) with held-out
20-60 % masks, next to OpenCV Telea's on the same pairs. bf16 autocast where supported.
Runs the same under `torchrun --nproc_per_node=N -m studio.train.photo_inpaint`.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from studio.data.images import centre_crop, find_images, held_out, read_rgb
from studio.data.masks import MaskSampler, fit_mask, read_mask, split_masks
from studio.errors import StudioError
from studio.metrics import psnr
from studio.nets.inpaint_net import UPSAMPLERS, Discriminator, InpaintNet
from studio.train import harness
from studio.train.harness import autocast, cosine_lr, use_bf16

VIRTUAL_LENGTH = 1 << 22  # crops per "epoch": far more than any run takes
MAX_SIDE = 1024  # big wallpapers are shrunk on load: full-size crops of them are featureless
VAL_SIZE = 256
VAL_BINS = (2, 3, 4, 5)  # 20-60 %: the bins the targets are set on


# ----------------------------------------------------------------------------- data


def shrink(img: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    h, w = img.shape[:2]
    k = max_side / max(h, w)
    return img if k >= 1 else cv2.resize(img, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA)


class InpaintCrops:
    """(image (N,3,S,S) in [0,1], hole (N,1,S,S)) batches; each index is its own seeded sample."""

    def __init__(self, images: list[np.ndarray], masks: MaskSampler, *, size: int, seed: int = 0):
        self.images = [im for im in images if min(im.shape[:2]) >= size]
        if not self.images:
            raise StudioError(f"no training image is at least {size}x{size} (--size)")
        # Large photos would otherwise swamp the small ones: weight by sqrt(area).
        w = np.array([float(im.shape[0] * im.shape[1]) ** 0.5 for im in self.images])
        self.weights = w / w.sum()
        self.masks, self.size, self.seed = masks, size, seed

    def __len__(self) -> int:
        return VIRTUAL_LENGTH

    def sample(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng((self.seed, int(index)))
        im = self.images[int(rng.choice(len(self.images), p=self.weights))]
        s = int(rng.integers(self.size, min(2 * self.size, *im.shape[:2]) + 1))
        y, x = int(rng.integers(0, im.shape[0] - s + 1)), int(rng.integers(0, im.shape[1] - s + 1))
        crop = im[y:y + s, x:x + s]
        if s != self.size:
            crop = cv2.resize(crop, (self.size, self.size), interpolation=cv2.INTER_AREA)
        crop = np.rot90(crop, int(rng.integers(4)))
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        return np.ascontiguousarray(crop), self.masks(self.size, rng)

    def get_batch(self, indices) -> tuple[torch.Tensor, torch.Tensor]:
        pairs = [self.sample(i) for i in indices]
        img = torch.from_numpy(np.stack([p[0] for p in pairs])).permute(0, 3, 1, 2).float().div_(255)
        hole = torch.from_numpy(np.stack([p[1] for p in pairs]))[:, None]
        return img, hole


def validation_pairs(photos: list[Path], val_masks: dict[int, list[Path]], *, size: int = VAL_SIZE,
                     bins=VAL_BINS) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """(float image, float hole, bin): photo i meets the i-th held-out mask of bin i % len(bins)."""
    bins = [b for b in bins if val_masks.get(b)]
    pairs = []
    for i, p in enumerate(photos):
        if not bins:
            break
        b = bins[i % len(bins)]
        files = val_masks[b]
        img = centre_crop(read_rgb(p), size).astype(np.float32) / 255
        pairs.append((img, fit_mask(read_mask(files[(i // len(bins)) % len(files)]), size), b))
    return pairs


def telea(img: np.ndarray, hole: np.ndarray) -> np.ndarray:
    h8 = (hole > 0.5).astype(np.uint8) * 255
    out = cv2.inpaint(np.round(img * 255).astype(np.uint8), h8, 5, cv2.INPAINT_TELEA)
    return out.astype(np.float32) / 255


# ----------------------------------------------------------------------------- arguments


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="studio train photo-inpaint", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, nargs="+", help="folders of training photos (searched recursively)")
    p.add_argument("--val", type=Path, help="folder whose last --val-holdout photos (by name) are validation only")
    p.add_argument("--val-holdout", type=int, default=50)
    p.add_argument("--masks", type=Path, help="irregular mask folder (NVIDIA: 00000.png ..); else generated holes only")
    p.add_argument("--mask-holdout", type=int, default=50, help="last N masks of each bin are validation only")
    p.add_argument("--size", type=int, default=128, help="training crop size")
    p.add_argument("--batch", type=int, default=12, help="batch size per process")
    p.add_argument("--width", type=int, default=24, help="generator width (channels at full resolution)")
    p.add_argument("--dilations", default="2,4,8,16", help="dilation of each middle residual block")
    p.add_argument("--upsample", choices=UPSAMPLERS, default="shuffle",
                   help="generator upsampling: sub-pixel (PixelShuffle) or nearest resize + conv (no checkerboard)")
    p.add_argument("--d-width", type=int, default=32, help="discriminator width")
    p.add_argument("--lr", type=float, default=3e-4, help="generator Adam learning rate at the start")
    p.add_argument("--lr-d", type=float, default=2e-4, help="discriminator Adam learning rate")
    p.add_argument("--hole-weight", type=float, default=6.0, help="L1 weight inside the hole (outside: 1)")
    p.add_argument("--adv-weight", type=float, default=0.01, help="adversarial loss weight (0: L1 only)")
    p.add_argument("--fm-weight", type=float, default=0.0,
                   help="discriminator feature-matching loss weight (with the adversarial loss; 0: off)")
    p.add_argument("--d-shift", type=int, default=0,
                   help="shift the discriminator's inputs by a random 0..N-1 px each step (0: off), so G cannot "
                        "fool it with a pattern locked to its stride-16 grid")
    p.add_argument("--adv-after", type=int, default=1000, help="L1 only for this many steps, then adversarial too")
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--val-count", type=int, default=50, help="validation pairs scored (at most --val-holdout)")
    p.add_argument("--sample-every", type=int, default=1000, help="write a sample grid every N steps")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                   help="bfloat16 autocast (default: on where the CPU or GPU supports it)")
    p.add_argument("--init", type=Path, help="a new run starts from the weights in this state.pt of another run "
                   "(fine-tuning, e.g. at a larger --size); ignored when --out resumes")
    p.add_argument("--export", type=Path, help="at the end, write this checkpoint stem (.safetensors + .json)")
    p.add_argument("--title", default=None, help="model card title")
    harness.add_run_args(p)
    return p


def check_args(args) -> None:
    if not args.data:
        raise StudioError("--data (folders of training photos) is required")
    for flag in ("size", "batch", "width", "d_width", "val_every", "val_count", "sample_every"):
        if getattr(args, flag) < 1:
            raise StudioError(f"--{flag.replace('_', '-')} must be 1 or more")
    if args.size % 16 or args.size < 64:
        raise StudioError("--size must be a multiple of 16, at least 64")
    if not (args.lr > 0 and args.lr_d > 0) or args.hole_weight < 0 or args.adv_weight < 0 or args.adv_after < 0 \
            or args.fm_weight < 0 or args.d_shift < 0:
        raise StudioError("learning rates must be positive, loss weights and --adv-after 0 or more")
    try:
        args.dilations = [int(d) for d in args.dilations.split(",") if d.strip()]
    except ValueError:
        raise StudioError(f"--dilations wants numbers like 2,4,8,16, got {args.dilations!r}") from None
    if not args.dilations or min(args.dilations) < 1:
        raise StudioError("--dilations needs at least one positive dilation")


def arch_config(args) -> dict:
    cfg = dict(width=args.width, dilations=list(args.dilations))
    if args.upsample != "shuffle":  # the default is left out: runs and checkpoints from before it still match
        cfg["upsample"] = args.upsample
    return cfg


def run_config(args) -> dict:
    """What must not change on resume: the architecture, both nets and the crop size."""
    return {**arch_config(args), "d_width": args.d_width, "size": args.size}


def load_data(args, run: harness.Run):
    val_files = held_out(args.val, args.val_holdout) if args.val else []
    banned = {p.resolve() for p in val_files}
    files = [p for p in find_images(args.data) if p.resolve() not in banned]
    if not files:
        raise StudioError("no training photos left after holding out the validation ones")
    train_masks, val_masks = split_masks(args.masks, args.mask_holdout) if args.masks else ([], {})
    data = InpaintCrops([shrink(read_rgb(p)) for p in files], MaskSampler(train_masks), size=args.size, seed=args.seed)
    val = validation_pairs(val_files[:args.val_count], val_masks) if harness.is_main() else []
    run.log(f"{len(data.images)} training photos from {', '.join(map(str, args.data))} ({len(banned)} held out), "
            f"{len(train_masks)} mask files + generated holes, {len(val)} validation pairs, "
            f"batch {args.batch} x {harness.context().world_size} process(es) of {args.size}px crops")
    return data, val


# ----------------------------------------------------------------------------- training


def hinge_d(real: torch.Tensor, fake: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    lr, lf = F.relu(1 - real), F.relu(1 + fake)
    if weight is None:
        return lr.mean() + lf.mean()
    n = weight.sum().clamp_min(1)
    return ((lr + lf) * weight).sum() / n


def patch_weight(hole: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """1 for PatchGAN cells that see some hole: elsewhere real and fake are the same pixels."""
    return (F.adaptive_max_pool2d(hole, like.shape[-2:]) > 0).to(like.dtype)


def shifted(shift: tuple[int, int], *images: torch.Tensor) -> list[torch.Tensor]:
    """The same circular shift of every image: real and fake stay aligned with each other and
    with the hole, but not with D's stride grid."""
    return [t.roll(shift, dims=(2, 3)) if any(shift) else t for t in images]


def feature_matching(D, img, hole, fake_maps, bf16: bool, device) -> torch.Tensor:
    """Mean L1 between D's trunk activations on the fill and on the real photo, where they see the hole.

    Unlike pixel L1, which averages plausible fills into a blur, this asks the fill to share the
    real photo's local statistics in D's (texture-sensitive) features (as in pix2pixHD).
    """
    with torch.no_grad(), autocast(device, bf16):
        *_, real_maps = D(img, hole, features=True)
    total = 0.0
    for f, r in zip(fake_maps, real_maps):
        w = patch_weight(hole, f[:, :1].float())
        err = (f.float() - r.float()).abs().mean(1, keepdim=True)
        total = total + (err * w).sum() / w.sum().clamp_min(1)
    return total / len(fake_maps)


def d_step(D, opt_d, img, hole, comp, bf16: bool, device) -> float:
    with autocast(device, bf16):
        g_real, p_real = D(img, hole)
        g_fake, p_fake = D(comp.detach(), hole)
    w = patch_weight(hole, p_real.float())
    loss = hinge_d(g_real.float(), g_fake.float()) + hinge_d(p_real.float(), p_fake.float(), w)
    opt_d.zero_grad(set_to_none=True)
    loss.backward()
    opt_d.step()
    return loss.item()


def train(args, ctx: harness.Context) -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)  # same initial weights on every rank
        G, D = InpaintNet(**arch_config(args)), Discriminator(args.d_width)
    G = G.to(ctx.device, memory_format=torch.channels_last)
    D = D.to(ctx.device, memory_format=torch.channels_last)
    opt_g = torch.optim.Adam(G.parameters(), lr=args.lr, betas=(0.9, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), lr=args.lr_d, betas=(0.5, 0.99))
    run = harness.Run(args, modules={"generator": G, "discriminator": D}, optimizers={"g": opt_g, "d": opt_d},
                      config=run_config(args), phase="photo-inpaint")
    data, val = load_data(args, run)
    batches = harness.InfiniteBatches(data, args.batch, seed=args.seed)
    if not run.resume(batches) and args.init:
        run.init_from(args.init, same=("width", "dilations", "upsample", "d_width"))
    bf16 = use_bf16(args, ctx.device)
    run.log(f"bf16 autocast {'on' if bf16 else 'off'}; generator {sum(p.numel() for p in G.parameters()) / 1e6:.2f} M "
            f"parameters, discriminator {sum(p.numel() for p in D.parameters()) / 1e6:.2f} M")
    run.extra["settings"] = {
        "batch": args.batch * ctx.world_size, "crop": args.size, "lr": args.lr, "lr_d": args.lr_d,
        "schedule": "cosine to 1 %", "loss": f"L1 ({args.hole_weight:g}x inside the hole) + {args.adv_weight:g} x "
        f"hinge GAN loss (global + PatchGAN heads)"
        + (f" + {args.fm_weight:g} x D feature matching" if args.fm_weight else "")
        + (f", D inputs shifted by 0-{args.d_shift - 1} px" if args.d_shift > 1 else "")
        + f" after step {args.adv_after}", "bf16": bf16}
    if harness.is_main() and val and "telea_hole_psnr" not in run.extra:
        run.extra["telea_hole_psnr"] = float(np.mean([psnr(telea(i, h), i, peak=1.0, where=h > 0.5)
                                                      for i, h, _ in val]))
    Gw, Dw = harness.wrap_ddp(G, ctx), harness.wrap_ddp(D, ctx)
    with run:
        while run.keep_going():
            for g in opt_g.param_groups:
                g["lr"] = cosine_lr(args.lr, run)
            img, hole = (t.to(ctx.device, memory_format=torch.channels_last) for t in next(batches))
            with autocast(ctx.device, bf16):
                out = Gw(img * (1 - hole), hole)
            out = out.float()
            comp = out * hole + img * (1 - hole)
            adv = args.adv_weight > 0 and run.step >= args.adv_after
            losses = {}
            if adv:
                shift = tuple(int(v) for v in torch.randint(0, args.d_shift, (2,))) if args.d_shift > 1 else (0, 0)
                d_img, d_hole, d_comp = shifted(shift, img, hole, comp)
                losses["d"] = d_step(Dw, opt_d, d_img, d_hole, d_comp, bf16, ctx.device)
            err = (out - img).abs().mean(1, keepdim=True)
            l1_hole = (err * hole).sum() / hole.sum().clamp_min(1)
            l1_valid = (err * (1 - hole)).sum() / (1 - hole).sum().clamp_min(1)
            loss = args.hole_weight * l1_hole + l1_valid
            if adv:
                # Through the plain D with its weights frozen: only G's gradients are made.
                D.requires_grad_(False)
                fm = args.fm_weight > 0
                with autocast(ctx.device, bf16):
                    g_fake, p_fake, *maps = D(d_comp, d_hole, features=fm)
                w = patch_weight(d_hole, p_fake.float())
                g_adv = -g_fake.float().mean() - (p_fake.float() * w).sum() / w.sum().clamp_min(1)
                loss = loss + args.adv_weight * g_adv
                losses["g_adv"] = g_adv.item()
                if fm:
                    fm_loss = feature_matching(D, d_img, d_hole, maps[0], bf16, ctx.device)
                    loss = loss + args.fm_weight * fm_loss
                    losses["fm"] = fm_loss.item()
            if not math.isfinite(loss.item()):  # stop before the NaN reaches the weights and the next save
                raise StudioError(f"the loss is not finite at step {run.step}; the same command resumes from the "
                                  "last save (add --no-bf16 if it happens again)")
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            opt_g.step()
            D.requires_grad_(True)
            run.record(l1_hole=l1_hole.item(), l1_valid=l1_valid.item(), **losses)
            after_step(run, G, val, args, ctx, bf16)
    finish(run, G, val, args, ctx, bf16)


# ----------------------------------------------------------------------------- validation


@torch.no_grad()
def fill(G: InpaintNet, img: np.ndarray, hole: np.ndarray, device, bf16: bool) -> np.ndarray:
    """The net's composited result on one float HxWx3 image (what the engine does, uncropped)."""
    x = torch.from_numpy(img).permute(2, 0, 1)[None].to(device)
    m = torch.from_numpy(hole)[None, None].to(device)
    with autocast(device, bf16):
        out = G(x * (1 - m), m).float().clamp(0, 1)
    out = out[0].permute(1, 2, 0).cpu().numpy()
    return np.where(hole[..., None] > 0.5, out, img)


def validate(G: InpaintNet, val, device, bf16: bool) -> dict:
    was = G.training
    G.eval()
    hole_p, whole_p = [], []
    for img, hole, _ in val:
        out = fill(G, img, hole, device, bf16)
        hole_p.append(psnr(out, img, peak=1.0, where=hole > 0.5))
        whole_p.append(psnr(out, img, peak=1.0))
    G.train(was)
    return {"hole_psnr": float(np.mean(hole_p)), "psnr": float(np.mean(whole_p))}


def sample_grid(G: InpaintNet, val, device, bf16: bool, n: int = 6) -> torch.Tensor:
    """Columns of (masked input, result, original) for the first n validation pairs, in [-1, 1]."""
    was = G.training
    G.eval()
    tiles = []
    for img, hole, _ in val[:n]:
        out = fill(G, img, hole, device, bf16)
        for t in (img * (1 - hole[..., None]) + 0.5 * hole[..., None], out, img):
            tiles.append(torch.from_numpy(np.ascontiguousarray(t)).permute(2, 0, 1))
    G.train(was)
    return torch.stack(tiles).mul(2).sub(1)


def after_step(run: harness.Run, G, val, args, ctx, bf16: bool) -> None:
    if not harness.is_main() or not val:
        return
    if run.step % args.val_every == 0:
        v = validate(G, val, ctx.device, bf16)
        run.extra["val"] = {**v, "step": run.step}
        run.log(f"val step {run.step}: hole PSNR {v['hole_psnr']:.2f} dB (Telea {run.extra['telea_hole_psnr']:.2f}), "
                f"image PSNR {v['psnr']:.2f} dB")
    if run.step % args.sample_every == 0:
        run.save_grid(sample_grid(G, val, ctx.device, bf16), f"step_{run.step:06d}", nrow=3)


def finish(run, G, val, args, ctx, bf16: bool) -> None:
    v = None
    if harness.is_main() and val:
        v = validate(G, val, ctx.device, bf16)
        run.log(f"final val: hole PSNR {v['hole_psnr']:.2f} dB (Telea {run.extra['telea_hole_psnr']:.2f}), "
                f"image PSNR {v['psnr']:.2f} dB")
        run.save_grid(sample_grid(G, val, ctx.device, bf16), "final", nrow=3)
    if args.export and harness.is_main():
        export(args, G, run, v)
    harness.barrier()


def export(args, G: InpaintNet, run: harness.Run, val: dict | None) -> None:
    from studio.checkpoints import save_checkpoint

    stem = args.export.with_suffix("") if args.export.suffix == ".safetensors" else args.export
    card = {
        "title": args.title or "Photo inpainting (PGGAN-style residual encoder-decoder)",
        "task": "inpainting",
        "method": "Demir & Unal 2018 (PGGAN): residual encoder-decoder generator with dilated middle blocks, "
                  "trained with L1 + adversarial losses from a discriminator with global and PatchGAN heads; "
                  "here the net refines a push-pull pyramid fill of the hole",
        "training_data": f"random {args.size}px crops of {', '.join(map(str, args.data))}"
                         + (f" minus the last {args.val_holdout} of {args.val}" if args.val else "")
                         + "; holes: " + (f"{args.masks} (last {args.mask_holdout} of each bin held out), " if args.masks else "")
                         + "random brush strokes and boxes",
        "license": "Trained on BSDS500 and the NVIDIA irregular masks, both for non-commercial research: "
                   "non-commercial use only.",
        "input": "RGB in [0, 1] and a mask (1 = fill); output RGB, clamp to [0, 1] and composite",
        "hardware": harness.hardware_summary(),
        "wall_time_minutes": round(run.elapsed / 60, 1),
        "trained_with": " ".join(["studio train photo-inpaint"] + [a for a in sys.argv[1:] if a not in ("train", "photo-inpaint")]),
        "training": {"steps": run.step, **run.extra.get("settings", {}),
                     **({"fine_tuned_from": run.extra["init"]} if "init" in run.extra else {})},
    }
    if val:
        card["validation"] = {
            "set": f"last {args.val_holdout} of {args.val}, {VAL_SIZE}px centre crops, with held-out masks of the "
                   f"20-60 % bins ({min(args.val_count, args.val_holdout)} pairs)",
            "hole_psnr": round(val["hole_psnr"], 3), "psnr": round(val["psnr"], 3),
            "telea_hole_psnr": round(run.extra["telea_hole_psnr"], 3)}
        card["metrics"] = {"hole_psnr": round(val["hole_psnr"], 2),
                           "vs_telea_db": round(val["hole_psnr"] - run.extra["telea_hole_psnr"], 2)}
    G = G.to("cpu", memory_format=torch.contiguous_format)
    path = save_checkpoint(G, stem, architecture="photo-inpaint", config=arch_config(args), card=card)
    print(f"exported {path}", flush=True)


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    check_args(args)
    ctx = harness.setup(args)
    train(args, ctx)


if __name__ == "__main__":
    sys.exit(harness.run_main(main))
