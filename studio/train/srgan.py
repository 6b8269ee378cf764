"""Fine-tune an SRResNet adversarially into SRGAN (the sharp model), export a checkpoint.

    studio train srgan --init /path/srresnet.safetensors --data ../shared/data/photos \
        --val ../shared/data/sr/Set5 --out runs/srgan --max-steps 800 --export checkpoints/srgan
    ... --vgg19 vgg19.safetensors     # ImageNet VGG19 you supply: the paper's VGG54 loss

Generator loss = content + --adv-weight (1e-3, as the paper) x adversarial + --pixel-weight
x L1. Content is an L1 distance between feature maps, each layer divided by the mean
magnitude of the original's features (so layers weigh alike whatever their scale): on
VGG19's relu5_4 when --vgg19 is given, else on relu1_2/2_2/3_4 of a fixed random-weight
VGG19 (see studio/nets/features.py; nothing is downloaded). The small L1 pixel term keeps
colours and PSNR anchored to the faithful model. The discriminator is the paper's
VGG-style net with spectral norm; standard non-saturating GAN loss, Adam for both.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from studio.errors import StudioError
from studio.nets.features import random_features, vgg19_features
from studio.nets.srresnet import Discriminator
from studio.train import harness
from studio.train.harness import autocast, cosine_lr, use_bf16
from studio.train.srresnet import (add_sr_args, after_step, arch_config, build_net, check_sr_args, finish, init_summary,
                                   load_data, load_init)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="studio train srgan", description=__doc__.split("\n\n")[0])
    p.add_argument("--vgg19", type=Path, help="ImageNet VGG19 weights (.safetensors, torchvision key names)")
    p.add_argument("--adv-weight", type=float, default=1e-3, help="weight of the adversarial loss")
    p.add_argument("--pixel-weight", type=float, default=1e-2, help="weight of the L1 pixel loss")
    p.add_argument("--d-lr", type=float, default=1e-4, help="discriminator learning rate")
    add_sr_args(p, lr=1e-4)
    return p


def content_loss(feat_net, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        target = feat_net(hr)
    loss = sr.new_zeros(())
    for a, b in zip(feat_net(sr), target):
        loss = loss + F.l1_loss(a.float(), b.float()) / (b.float().abs().mean() + 1e-6)
    return loss / len(target)


def train(args, ctx: harness.Context) -> None:
    net = build_net(args, ctx.device)
    disc = Discriminator().to(ctx.device).to(memory_format=torch.channels_last)
    opt_g = torch.optim.Adam(net.parameters(), lr=args.lr, betas=(0.9, 0.99))
    opt_d = torch.optim.Adam(disc.parameters(), lr=args.d_lr, betas=(0.9, 0.99))
    run = harness.Run(args, modules={"generator": net, "discriminator": disc}, optimizers={"g": opt_g, "d": opt_d},
                      config=arch_config(args), phase="srgan")
    data, val = load_data(args, run)
    batches = harness.InfiniteBatches(data, args.batch, seed=args.seed)
    if not run.resume(batches):
        if not args.init:
            raise StudioError("--init (the SRResNet checkpoint to fine-tune) is required for a new run")
        load_init(args, net, run)
    feat_net = (vgg19_features(args.vgg19) if args.vgg19 else random_features()).to(ctx.device)
    feat_net = feat_net.to(memory_format=torch.channels_last)
    content = "VGG19 relu5_4 (user-supplied ImageNet weights)" if args.vgg19 else \
        "random-weight VGG19 relu1_2/2_2/3_4 (no pretrained weights available)"
    bf16 = use_bf16(args, ctx.device)
    run.log(f"content loss on {content}; bf16 autocast {'on' if bf16 else 'off'}")
    run.extra["settings"] = {"content_loss": content, "adv_weight": args.adv_weight, "pixel_weight": args.pixel_weight,
                             "batch": args.batch * ctx.world_size, "lr_patch": args.patch, "lr": args.lr,
                             "d_lr": args.d_lr, "degrade": args.degrade, "bf16": bf16}
    G, D = harness.wrap_ddp(net, ctx), harness.wrap_ddp(disc, ctx)

    with run:
        while run.keep_going():
            for g in opt_g.param_groups:
                g["lr"] = cosine_lr(args.lr, run)
            lr, hr = (t.to(ctx.device, memory_format=torch.channels_last) for t in next(batches))
            with autocast(ctx.device, bf16):
                sr = G(lr)
                d_real, d_fake = D(hr).float(), D(sr.detach().clamp(0, 1)).float()
            loss_d = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + \
                F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()

            disc.requires_grad_(False)  # the G step needs D's gradient w.r.t. sr only
            with autocast(ctx.device, bf16):
                logits = disc(sr.clamp(0, 1)).float()
                loss_c = content_loss(feat_net, sr.clamp(0, 1), hr)
            loss_adv = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
            loss_pix = F.l1_loss(sr.float(), hr)
            loss_g = loss_c + args.adv_weight * loss_adv + args.pixel_weight * loss_pix
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            disc.requires_grad_(True)
            run.record(content=loss_c.item(), adv=loss_adv.item(), l1=loss_pix.item(), loss_d=loss_d.item(),
                       **{"D(x)": torch.sigmoid(d_real).mean().item(), "D(G(z))": torch.sigmoid(d_fake).mean().item()})
            after_step(run, net, val, args, ctx, bf16)
    extra = {"method": "SRGAN (Ledig et al. 2017): the SRResNet generator fine-tuned with content + adversarial loss",
             **init_summary(run)}
    finish(run, net, val, args, ctx, bf16, kind="srgan", extra_card=extra)


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    check_sr_args(args)
    ctx = harness.setup(args)
    train(args, ctx)


if __name__ == "__main__":
    sys.exit(harness.run_main(main))
