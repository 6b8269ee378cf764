"""Fine-tune a faithful 4x upscaler adversarially into the sharp model, export a checkpoint.

    studio train srgan --arch span --init span-x4 --data ../shared/data/photos \
        --val ../shared/data/sr/Set5 --out runs/sharp --max-steps 20000 --export checkpoints/srgan
    ... --vgg19 vgg19.safetensors     # ImageNet VGG19 you supply: adds the paper's VGG54 loss

Generator loss = --pixel-weight x L1 + --lowpass-weight x L1 of the 4x4 block means (colours
and layout stay the faithful model's) + --fm-weight x feature matching + --adv-weight x hinge
loss. The discriminator (studio/nets/sr_critic.py) is a conditional PatchGAN with spectral
norm; feature matching compares its hidden maps on the output and on the original, each layer
divided by the original's mean magnitude. Two measures against periodic artifacts, the
cross-hatch of the first SRGAN: the critic's input is cropped at a random 0-7 px offset each
step, so its stride-8 grid never lines up with the generator's 4x4 sub-pixel grid and a
repeating pattern is what it learns to see; and the exported weights are an exponential
moving average of the generator's (--ema), which smooths the step-to-step texture noise.
An artifact loss (LDL, Liang et al. 2022, --artifact-weight) adds
L1 where the output's error is locally erratic and larger than the moving average's.
Validation reports sharpness (detail) and colour shift beside Y-PSNR.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from studio.nets.features import vgg19_features
from studio.nets.sr_critic import SRCritic
from studio.train import harness
from studio.train.harness import autocast, cosine_lr, use_bf16
from studio.train.srresnet import (SCALE, add_sr_args, arch_config, build_net, check_sr_args, finish, init_summary,
                                   load_data, load_init, sample_grid, validate)

SHIFT = 8  # the critic's input starts at a random offset below this (its stride)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="studio train srgan", description=__doc__.split("\n\n")[0])
    p.add_argument("--vgg19", type=Path, help="ImageNet VGG19 weights (.safetensors, torchvision key names)")
    p.add_argument("--adv-weight", type=float, default=0.05, help="weight of the hinge adversarial loss")
    p.add_argument("--fm-weight", type=float, default=1.0, help="weight of the critic feature-matching loss")
    p.add_argument("--pixel-weight", type=float, default=0.1, help="weight of the full-resolution L1 loss")
    p.add_argument("--lowpass-weight", type=float, default=1.0, help="weight of the L1 loss on 4x4 block means")
    p.add_argument("--artifact-weight", type=float, default=1.0,
                   help="weight of the artifact loss (LDL, Liang et al. 2022): L1 where the output's error is "
                        "locally erratic and worse than the moving average's; 0 = off")
    p.add_argument("--shift-weight", type=float, default=0.0,
                   help="weight of the shift-consistency loss: the output of an input shifted by 1-3 output "
                        "pixels must be the shifted output (no pattern tied to the 4x4 sub-pixel grid); 0 = off")
    p.add_argument("--d-lr", type=float, default=2e-4, help="discriminator learning rate")
    p.add_argument("--d-width", type=int, default=48, help="discriminator width")
    p.add_argument("--ema", type=float, default=0.999, help="decay of the exported weights' moving average (0: off)")
    add_sr_args(p, lr=1e-4)
    return p


def feature_matching(fake: list[torch.Tensor], real: list[torch.Tensor]) -> torch.Tensor:
    loss = fake[0].new_zeros((), dtype=torch.float32)
    for a, b in zip(fake, real):
        b = b.detach().float()
        loss = loss + F.l1_loss(a.float(), b) / (b.abs().mean() + 1e-6)
    return loss / len(real)


def vgg_loss(feat_net, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        target = feat_net(hr)
    return feature_matching(feat_net(sr), target)


def artifact_map(hr: torch.Tensor, sr: torch.Tensor, sr_ema: torch.Tensor, k: int = 7) -> torch.Tensor:
    """Where the output is likely an artifact rather than detail (LDL, Liang et al. 2022): the local
    variance (k x k) of its absolute error, scaled by the image's overall error variance to the
    1/5, kept only where the output's error is larger than the averaged weights' (whose output is
    stable: what the current weights add there and get wrong is noise, not texture)."""
    err = (hr - sr).abs().sum(1, keepdim=True)
    err_ema = (hr - sr_ema).abs().sum(1, keepdim=True)
    padded = F.pad(err, [k // 2] * 4, mode="reflect")
    mean = F.avg_pool2d(padded, k, stride=1)
    local = (F.avg_pool2d(padded * padded, k, stride=1) - mean * mean).clamp_min(0) * (k * k / (k * k - 1))
    overall = err.var(dim=(1, 2, 3), keepdim=True) ** 0.2
    return torch.where(err < err_ema, 0.0, local * overall)


def shift_consistency(G, hr: torch.Tensor, sr: torch.Tensor, seed, device, bf16: bool) -> torch.Tensor:
    """L1 between the output and the output for the original shifted by 1-3 px (its LR made again,
    antialiased bicubic): an upscaler tied to no sub-pixel grid gives the same picture, shifted.
    PixelShuffle draws each 4x4 block with 16 separate kernels, and adversarial training turned
    their differences into dotted edges; this is what rules them out."""
    rng = np.random.default_rng(seed)
    dy, dx = (int(v) for v in rng.integers(0, SCALE, 2))
    if dy == dx == 0:
        dy = 1 + int(rng.integers(0, SCALE - 1))
    h, w = hr.shape[-2:]
    shifted = hr[..., dy : dy + h - SCALE, dx : dx + w - SCALE]
    lr = F.interpolate(shifted, scale_factor=1 / SCALE, mode="bicubic", antialias=True, align_corners=False)
    with autocast(device, bf16):
        out = G(lr.clamp(0, 1).contiguous(memory_format=torch.channels_last)).float()
    m = 2 * SCALE  # both outputs' borders see padding
    a = sr.float()[..., dy : dy + h - SCALE, dx : dx + w - SCALE][..., m:-m, m:-m]
    return F.l1_loss(out[..., m:-m, m:-m], a)


def random_crop(seed, *images: torch.Tensor) -> list[torch.Tensor]:
    """The same random 0..SHIFT-1 px offset (drawn from `seed`) for each image; all lose SHIFT px."""
    dy, dx = np.random.default_rng(seed).integers(0, SHIFT, 2)
    h, w = images[0].shape[-2:]
    return [t[..., dy : dy + h - SHIFT, dx : dx + w - SHIFT] for t in images]


@torch.no_grad()
def ema_update(ema: torch.nn.Module, net: torch.nn.Module, decay: float) -> None:
    for e, p in zip(ema.parameters(), net.parameters()):
        e.lerp_(p.detach(), 1 - decay)


def train(args, ctx: harness.Context) -> None:
    net = build_net(args, ctx.device)
    ema = copy.deepcopy(net).requires_grad_(False)
    disc = SRCritic(args.d_width).to(ctx.device).to(memory_format=torch.channels_last)
    opt_g = torch.optim.Adam(net.parameters(), lr=args.lr, betas=(0.9, 0.99))
    opt_d = torch.optim.Adam(disc.parameters(), lr=args.d_lr, betas=(0.5, 0.99))
    run = harness.Run(args, modules={"generator": net, "ema": ema, "discriminator": disc},
                      optimizers={"g": opt_g, "d": opt_d}, config=arch_config(args), phase="srgan")
    data, val = load_data(args, run)
    batches = harness.InfiniteBatches(data, args.batch, seed=args.seed)
    if not run.resume(batches):
        if not args.init:
            from studio.errors import StudioError
            raise StudioError("--init (the faithful checkpoint to fine-tune) is required for a new run")
        load_init(args, net, run)
        ema.load_state_dict(net.state_dict())
    feat_net = vgg19_features(args.vgg19).to(ctx.device) if args.vgg19 else None
    content = " + ".join(["critic feature matching"] * (args.fm_weight > 0)
                         + ["VGG19 relu5_4 (user-supplied ImageNet weights)"] * bool(args.vgg19)) or "none"
    bf16 = use_bf16(args, ctx.device)
    run.log(f"content loss: {content}; bf16 autocast {'on' if bf16 else 'off'}")
    run.extra["settings"] = {"content_loss": content, "adv_loss": "hinge", "adv_weight": args.adv_weight,
                             "fm_weight": args.fm_weight, "pixel_weight": args.pixel_weight,
                             "lowpass_weight": args.lowpass_weight, "artifact_weight": args.artifact_weight,
                             "shift_weight": args.shift_weight, "critic": f"conditional PatchGAN, width {args.d_width}, "
                             f"input at a random 0-{SHIFT - 1} px offset", "ema": args.ema,
                             "batch": args.batch * ctx.world_size, "lr_patch": args.patch, "lr": args.lr,
                             "d_lr": args.d_lr, "degrade": args.degrade, "bf16": bf16}
    G, D = harness.wrap_ddp(net, ctx), harness.wrap_ddp(disc, ctx)

    with run:
        while run.keep_going():
            for g in opt_g.param_groups:
                g["lr"] = cosine_lr(args.lr, run)
            lr, hr = (t.to(ctx.device, memory_format=torch.channels_last) for t in next(batches))
            bic = F.interpolate(lr, scale_factor=SCALE, mode="bicubic", align_corners=False).clamp(0, 1)
            with autocast(ctx.device, bf16):
                sr = G(lr)
            sr_c, hr_c, bic_c = random_crop((args.seed, run.step, ctx.rank), sr.clamp(0, 1), hr, bic)
            with autocast(ctx.device, bf16):
                d_real, _ = D(hr_c, bic_c)
                d_fake, _ = D(sr_c.detach(), bic_c)
            loss_d = F.relu(1 - d_real.float()).mean() + F.relu(1 + d_fake.float()).mean()
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()

            disc.requires_grad_(False)  # the G step needs D's gradient w.r.t. sr only
            with autocast(ctx.device, bf16):
                logits, f_fake = disc(sr_c, bic_c)
                if args.fm_weight > 0:  # the critic's pass over the original serves feature matching only
                    with torch.no_grad():
                        _, f_real = disc(hr_c, bic_c)
                loss_vgg = vgg_loss(feat_net, sr.clamp(0, 1), hr) if feat_net is not None else None
            loss_fm = feature_matching(f_fake, f_real) if args.fm_weight > 0 else torch.zeros(())
            loss_adv = -logits.float().mean()
            loss_pix = F.l1_loss(sr.float(), hr)
            loss_low = F.l1_loss(F.avg_pool2d(sr.float(), SCALE), F.avg_pool2d(hr, SCALE))
            loss_shift = torch.zeros(())
            if args.shift_weight > 0:
                loss_shift = shift_consistency(G, hr, sr, (args.seed, run.step, ctx.rank, 1), ctx.device, bf16)
            loss_art = torch.zeros(())
            if args.artifact_weight > 0:
                with torch.no_grad(), autocast(ctx.device, bf16):
                    sr_ema = ema(lr).float()
                m = artifact_map(hr, sr.detach().float(), sr_ema)
                loss_art = (m * (sr.float() - hr).abs()).mean()
            loss_g = (args.fm_weight * loss_fm + args.adv_weight * loss_adv + args.pixel_weight * loss_pix
                      + args.lowpass_weight * loss_low + args.artifact_weight * loss_art
                      + args.shift_weight * loss_shift + (loss_vgg if loss_vgg is not None else 0))
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            disc.requires_grad_(True)
            if args.ema > 0:
                ema_update(ema, net, args.ema)
            else:
                ema.load_state_dict(net.state_dict())
            run.record(fm=loss_fm.item(), adv=loss_adv.item(), l1=loss_pix.item(), low=loss_low.item(), art=loss_art.item(), shift=loss_shift.item(),
                       loss_d=loss_d.item(), d_real=d_real.float().mean().item(), d_fake=d_fake.float().mean().item())
            after_step(run, ema, val, args, ctx, bf16)
    extra = {"method": "SRGAN-style fine-tune (Ledig et al. 2017) of the faithful model: L1 + block-mean L1 + "
                       "conditional PatchGAN hinge loss with feature matching, LDL artifact loss, shifted critic input, "
                       "EMA weights",
             **init_summary(run)}
    finish(run, ema, val, args, ctx, bf16, kind="srgan", extra_card=extra)


def after_step(run: harness.Run, net, val, args, ctx, bf16: bool) -> None:
    """Validation (PSNR, detail, colour shift) and sample grids on rank 0 at their intervals."""
    if not harness.is_main() or not val:
        return
    if run.step % args.val_every == 0:
        v = validate(net, val, ctx.device, bf16, sharpness=True)
        run.extra["val"] = {**v, "step": run.step}
        run.log(f"val step {run.step}: Y-PSNR {v['psnr']:.2f} dB SSIM {v['ssim']:.4f} detail {v['detail']:.2f} "
                f"shift {v['shift']:.2f} (bicubic {v['bicubic_psnr']:.2f})")
    if run.step % args.sample_every == 0:
        run.save_grid(sample_grid(net, val, ctx.device, bf16), f"step_{run.step:06d}", nrow=6)


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    check_sr_args(args)
    ctx = harness.setup(args)
    train(args, ctx)


if __name__ == "__main__":
    sys.exit(harness.run_main(main))
