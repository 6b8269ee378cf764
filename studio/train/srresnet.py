"""Train the SRResNet 4x generator with a pixel loss (the faithful model), export a checkpoint.

    studio train srresnet --data ../shared/data/photos --val ../shared/data/sr/Set5 \
        --out runs/srresnet --max-steps 6000 --max-minutes 60 --export checkpoints/srresnet
    studio train srresnet --data ../shared/data/faces/celebahq/256 --val-holdout 500 \
        --out runs/face-sr --export checkpoints/face-sr-x4          # faces 64 -> 256

L1 loss on random crops (LR --patch pixels square), Adam, learning rate on a cosine from
--lr down to 1 % over --max-steps. Validation: Y-PSNR by the literature's protocol (see
studio/metrics.py) every --val-every steps, logged next to bicubic's. On a CPU with
bfloat16 support the net runs under bf16 autocast (twice as fast; the loss and the
bicubic base stay float32). Runs the same under `torchrun --nproc_per_node=N`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from studio.data.images import bicubic_down, bicubic_up, find_images, read_rgb
from studio.errors import StudioError
from studio.metrics import colour_shift, crop_to_multiple, detail_ratio, sr_scores
from studio.nets.srresnet import SRResNet
from studio.train import harness
from studio.train.harness import autocast, cosine_lr, use_bf16
from studio.train.sr_data import SRPatches

SCALE = 4
# architecture -> (default blocks, default channels, what the model card says of it)
ARCHITECTURES = {
    "srresnet": (16, 64, "SRResNet generator (Ledig et al. 2017): residual blocks without batch norm, two "
                         "PixelShuffle x2 stages, output added to a bicubic upscale"),
    "span": (6, 48, "SPAN-style efficient net (Wan et al. 2024): blocks of three 3x3 convolutions with "
                    "parameter-free attention, all at the input's size, one ICNR-initialised PixelShuffle x4, "
                    "output added to a bicubic upscale"),
}


# ----------------------------------------------------------------------------- arguments


def add_sr_args(p: argparse.ArgumentParser, *, lr: float) -> None:
    p.add_argument("--data", type=Path, nargs="+", help="folders of HR training images (searched recursively)")
    p.add_argument("--init", help="start a new run from this SRResNet checkpoint (name or .safetensors)")
    p.add_argument("--val", type=Path, help="folder of HR validation images (e.g. Set5)")
    p.add_argument("--val-holdout", type=int, default=0, help="also hold out the last N training files for validation")
    p.add_argument("--val-count", type=int, default=50, help="score at most this many validation images")
    p.add_argument("--val-every", type=int, default=500, help="validate every N steps")
    p.add_argument("--batch", type=int, default=16, help="batch size per process")
    p.add_argument("--patch", type=int, default=24, help="LR crop size (HR crop is 4x)")
    p.add_argument("--lr", type=float, default=lr, help="Adam learning rate at the start")
    p.add_argument("--degrade", action="store_true", help="add light blur, noise and JPEG to LR (for real photos)")
    p.add_argument("--arch", choices=sorted(ARCHITECTURES), default="srresnet",
                   help="srresnet (Ledig et al.), or span: an efficient net whose blocks all run at the input's "
                        "size (SPAN-style parameter-free attention, ~0.4 M parameters)")
    p.add_argument("--blocks", type=int, default=None, help="blocks (default: srresnet 16, span 6)")
    p.add_argument("--channels", type=int, default=None, help="feature channels (default: srresnet 64, span 48)")
    p.add_argument("--head-kernel", type=int, default=3, help="kernel of the first and last conv (the paper: 9)")
    p.add_argument("--hr-channels", type=int, default=0,
                   help="span: add two 3x3 convolutions of this width at the output's size (the sharp model; "
                        "0 = none). A faithful model without them initialises such a net")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                   help="bfloat16 autocast (default: on where the CPU or GPU supports it)")
    p.add_argument("--sample-every", type=int, default=1000, help="write a sample grid every N steps")
    p.add_argument("--export", type=Path, help="at the end, write this checkpoint stem (.safetensors + .json)")
    p.add_argument("--title", default=None, help="model card title")
    harness.add_run_args(p)


def check_sr_args(args) -> None:
    blocks, channels, _ = ARCHITECTURES[args.arch]
    args.blocks = blocks if args.blocks is None else args.blocks
    args.channels = channels if args.channels is None else args.channels
    if not args.data:
        raise StudioError("--data (folders of training images) is required")
    for flag in ("batch", "patch", "val_count", "val_every", "blocks", "channels", "sample_every"):
        if getattr(args, flag) < 1:
            raise StudioError(f"--{flag.replace('_', '-')} must be 1 or more")
    if args.hr_channels < 0 or (args.hr_channels and args.arch != "span"):
        raise StudioError("--hr-channels is for --arch span, and 0 or more")
    if args.head_kernel < 1 or args.head_kernel % 2 == 0:
        raise StudioError("--head-kernel must be odd")
    if not args.lr > 0:
        raise StudioError("--lr must be positive")


def arch_config(args) -> dict:
    if args.arch == "span":
        extra = dict(hr_channels=args.hr_channels) if args.hr_channels else {}
        return dict(blocks=args.blocks, channels=args.channels, **extra)
    return dict(blocks=args.blocks, channels=args.channels, head_kernel=args.head_kernel)


# ----------------------------------------------------------------------------- data


def load_data(args, run: harness.Run):
    files = find_images(args.data)
    val_files = files[len(files) - args.val_holdout :] if args.val_holdout else []
    train_files = files[: len(files) - args.val_holdout]
    if not train_files:
        raise StudioError("--val-holdout leaves no training images")
    if args.val:
        val_files = find_images([args.val]) + val_files
    train = SRPatches([read_rgb(p) for p in train_files], lr_patch=args.patch, degrade=args.degrade, seed=args.seed)
    val = [crop_to_multiple(read_rgb(p), SCALE) for p in val_files[: args.val_count]]
    run.log(f"{len(train.images)} training images from {', '.join(map(str, args.data))}, {len(val)} validation images, "
            f"batch {args.batch} x {harness.context().world_size} process(es) of {args.patch}px LR crops")
    return train, val


def to_tensor(rgb8: np.ndarray, device) -> torch.Tensor:
    return torch.from_numpy(np.array(rgb8, copy=True)).permute(2, 0, 1)[None].float().div(255).to(device)


def to_rgb(x: torch.Tensor) -> np.ndarray:
    return x[0].float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()


@torch.no_grad()
def validate(net: SRResNet, val: list[np.ndarray], device, bf16: bool, sharpness: bool = False) -> dict[str, float]:
    """Mean Y-PSNR / SSIM of the net and of bicubic on the validation images; with `sharpness`
    also the net's detail ratio and colour shift (studio bench sr's measures)."""
    was = net.training
    net.eval()
    scores, base, detail, shift = [], [], [], []
    for hr in val:
        lr = bicubic_down(hr, SCALE)
        x = to_tensor(lr, device)
        with autocast(device, bf16):
            out = to_rgb(net(x))
        truth, bic = hr.astype(np.float64) / 255, bicubic_up(lr, SCALE)  # Pillow's bicubic, as the literature
        scores.append(sr_scores(out, truth))
        base.append(sr_scores(bic, truth))
        if sharpness:
            detail.append(detail_ratio(out, truth))
            shift.append(colour_shift(out, bic))
    net.train(was)
    s, b = np.mean(scores, axis=0), np.mean(base, axis=0)
    result = {"psnr": float(s[0]), "ssim": float(s[1]), "bicubic_psnr": float(b[0]), "bicubic_ssim": float(b[1])}
    if sharpness:
        result.update(detail=float(np.mean(detail)), shift=float(np.mean(shift)))
    return result


@torch.no_grad()
def sample_grid(net: SRResNet, val: list[np.ndarray], device, bf16: bool, crop: int = 96) -> torch.Tensor:
    """Rows of (bicubic, net, original) crops from the middle of validation images, in [-1, 1]."""
    was = net.training
    net.eval()
    tiles = []
    for hr in val[:8]:
        h, w = hr.shape[:2]
        c = min(crop, h, w) // SCALE * SCALE
        y, x = (h - c) // 2 // SCALE * SCALE, (w - c) // 2 // SCALE * SCALE
        patch = hr[y : y + c, x : x + c]
        lr = to_tensor(bicubic_down(patch, SCALE), device)
        with autocast(device, bf16):
            out = net(lr).float()
        bic = F.interpolate(lr, scale_factor=SCALE, mode="bicubic", align_corners=False)
        for t in (bic, out, to_tensor(patch, device)):
            tiles.append(F.interpolate(t.clamp(0, 1), size=(crop, crop), mode="nearest")[0])
    net.train(was)
    return torch.stack(tiles).mul(2).sub(1)


# ----------------------------------------------------------------------------- training


def load_init(args, net: SRResNet, run: harness.Run) -> None:
    """Warm start a new run from a shipped checkpoint of the same architecture."""
    from studio.checkpoints import load_model

    init, info = load_model(args.init)
    have, want = dict(info.card.get("config") or {}), arch_config(args)
    if want.get("hr_channels") and not have.get("hr_channels"):
        have["hr_channels"] = want["hr_channels"]  # a faithful model: the output stage starts at zero
    if info.architecture != args.arch or have != want:
        raise StudioError(f"--init {args.init} is {info.architecture} {info.card.get('config')}; "
                          f"this run needs {args.arch} {arch_config(args)}")
    missing, unexpected = net.load_state_dict(init.state_dict(), strict=False)
    if unexpected or any(not k.startswith("hr.") for k in missing):
        raise StudioError(f"--init {args.init} does not fit this net: {(unexpected + missing)[:3]}")
    run.extra["init"] = {"name": info.name, "card": info.card}
    run.log(f"starting from {info.weights}")


def init_summary(run: harness.Run) -> dict:
    init = run.extra.get("init")
    if not init:
        return {}
    card = init.get("card") or {}
    return {"initialised_from": {"name": init.get("name"), "steps": card.get("training", {}).get("steps"),
                                 "wall_time_minutes": card.get("wall_time_minutes")}}


def build_net(args, device) -> SRResNet:
    from studio.nets import registry

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        net = registry.build(args.arch, arch_config(args))
    return net.to(device).to(memory_format=torch.channels_last)


def train(args, ctx: harness.Context) -> None:
    net = build_net(args, ctx.device)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr, betas=(0.9, 0.99))
    run = harness.Run(args, modules={"generator": net}, optimizers={"g": opt}, config=arch_config(args), phase="srresnet")
    data, val = load_data(args, run)
    batches = harness.InfiniteBatches(data, args.batch, seed=args.seed)
    if not run.resume(batches) and args.init:
        load_init(args, net, run)
    bf16 = use_bf16(args, ctx.device)
    run.log(f"bf16 autocast {'on' if bf16 else 'off'}")
    run.extra["settings"] = {"loss": "L1", "batch": args.batch * ctx.world_size, "lr_patch": args.patch,
                             "lr": args.lr, "schedule": "cosine to 1 % over the step or time limit", "degrade": args.degrade, "bf16": bf16}
    G = harness.wrap_ddp(net, ctx)
    with run:
        while run.keep_going():
            for g in opt.param_groups:
                g["lr"] = cosine_lr(args.lr, run)
            lr, hr = (t.to(ctx.device, memory_format=torch.channels_last) for t in next(batches))
            with autocast(ctx.device, bf16):
                out = G(lr)
            loss = F.l1_loss(out.float(), hr)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            run.record(l1=loss.item())
            after_step(run, net, val, args, ctx, bf16)
    finish(run, net, val, args, ctx, bf16, kind="srresnet", extra_card=init_summary(run))


def after_step(run: harness.Run, net, val, args, ctx, bf16: bool) -> None:
    """Validation and sample grids on rank 0 at their intervals."""
    if not harness.is_main() or not val:
        return
    if run.step % args.val_every == 0:
        v = validate(net, val, ctx.device, bf16)
        run.extra["val"] = {**v, "step": run.step}
        run.log(f"val step {run.step}: Y-PSNR {v['psnr']:.2f} dB SSIM {v['ssim']:.4f} "
                f"(bicubic {v['bicubic_psnr']:.2f} / {v['bicubic_ssim']:.4f})")
    if run.step % args.sample_every == 0:
        run.save_grid(sample_grid(net, val, ctx.device, bf16), f"step_{run.step:06d}", nrow=6)


def finish(run, net, val, args, ctx, bf16: bool, *, kind: str, extra_card: dict | None = None) -> None:
    v = None
    if harness.is_main() and val:
        v = validate(net, val, ctx.device, bf16)
        run.log(f"final val: Y-PSNR {v['psnr']:.2f} dB SSIM {v['ssim']:.4f} (bicubic {v['bicubic_psnr']:.2f})")
        run.save_grid(sample_grid(net, val, ctx.device, bf16), "final", nrow=6)
    if args.export and harness.is_main():
        export(args, net, run, kind=kind, val=v, extra_card=extra_card)
    harness.barrier()


def export(args, net: SRResNet, run: harness.Run, *, kind: str, val: dict | None, extra_card: dict | None) -> None:
    from studio.checkpoints import save_checkpoint

    stem = args.export.with_suffix("") if args.export.suffix == ".safetensors" else args.export
    stem.parent.mkdir(parents=True, exist_ok=True)
    data = ", ".join(str(Path(d).name) for d in args.data)
    card = {
        "title": args.title or f"{kind.upper()} 4x ({data})",
        "task": "4x super-resolution",
        "method": ARCHITECTURES[args.arch][2] + f" ({sum(p.numel() for p in net.parameters()) / 1e6:.2f} M "
                                                  "parameters)",
        "scale": SCALE,
        "training_data": f"random crops of {', '.join(map(str, args.data))}"
                         + (f" (last {args.val_holdout} files held out)" if args.val_holdout else ""),
        "license": "Trained on data for non-commercial research (BSDS500 / CelebA-HQ): non-commercial use only.",
        "input": "RGB in [0, 1]; output 4x larger, clamp to [0, 1]",
        "hardware": harness.hardware_summary(),
        "wall_time_minutes": round(run.elapsed / 60, 1),
        "trained_with": " ".join(["studio train", kind] + [a for a in sys.argv[1:] if a not in ("train", kind)]),
        "training": {"steps": run.step, **run.extra.get("settings", {})},
    }
    if val:
        card["validation"] = {"set": str(args.val or "held-out training files"), "protocol": "Y (BT.601), 4-px border shaved",
                              **{k: round(v, 4) for k, v in val.items()}}
    card.update(extra_card or {})
    net = net.to("cpu", memory_format=torch.contiguous_format)
    path = save_checkpoint(net, stem, architecture=args.arch, config=arch_config(args), card=card)
    print(f"exported {path}", flush=True)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="studio train srresnet", description=__doc__.split("\n\n")[0])
    add_sr_args(p, lr=2e-4)
    return p


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    check_sr_args(args)
    ctx = harness.setup(args)
    train(args, ctx)


if __name__ == "__main__":
    sys.exit(harness.run_main(main))
