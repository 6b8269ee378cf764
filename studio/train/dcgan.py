"""Train the 64x64 face DCGAN, then its encoder; export one checkpoint with G, D and E.

    python -m studio.train.dcgan --data DIR --out runs/dcgan --max-minutes 110 --threads 2
    python -m studio.train.dcgan --data DIR --out runs/dcgan --phase encoder --max-steps 3000 \
        --export checkpoints/dcgan-faces64
    python -m studio.train.dcgan --benchmark 64,48,32          # seconds per step, then exit

Phase `gan`: the standard non-saturating GAN loss, Adam(2e-4, 0.5, 0.999), one D and one
G update per step on the same fake batch. Phase `encoder`: G frozen, E learns z back from
G(z) (MSE on z, optionally an L1 pixel term on G(E(G(z)))); it starts from the GAN phase's
state.pt and keeps its own state-encoder.pt in the same run folder. Both run the same under
`torchrun --nproc_per_node=N -m studio.train.dcgan ...`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from studio.errors import StudioError
from studio.nets.dcgan import D_NORMS, NZ, Z_LIMIT, DCGAN64, sample_z
from studio.train import harness
from studio.train.data import image_folder

ENCODER_STATE = "state-encoder.pt"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m studio.train.dcgan", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, help="folder of face images (64x64; others are resized)")
    p.add_argument("--phase", choices=("gan", "encoder"), default="gan", help="what to train (default: gan)")
    p.add_argument("--val-holdout", type=int, default=1000, help="last N files by number are validation, never trained on")
    p.add_argument("--batch", type=int, default=64, help="batch size per process")
    p.add_argument("--lr", type=float, default=2e-4, help="Adam learning rate of G and D")
    p.add_argument("--beta1", type=float, default=0.5)
    p.add_argument("--beta2", type=float, default=0.999)
    p.add_argument("--label-smooth", type=float, default=0.0, help="one-sided: D's target for real images is 1 - this")
    p.add_argument("--ngf", type=int, default=64, help="generator width")
    p.add_argument("--ndf", type=int, default=64, help="discriminator width")
    p.add_argument("--nef", type=int, default=64, help="encoder width")
    p.add_argument("--d-norm", choices=D_NORMS, default="batch", help="discriminator normalisation")
    p.add_argument("--encoder-lr", type=float, default=5e-4, help="Adam learning rate of E (phase encoder)")
    p.add_argument("--pixel-weight", type=float, default=0.0, help="weight of L1(G(E(G(z))), G(z)) (phase encoder)")
    p.add_argument("--sample-every", type=int, default=250, help="write a sample grid every N steps")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True,
                   help="channels-last memory format (faster CPU convolutions)")
    p.add_argument("--export", type=Path, help="at the end, write this checkpoint stem (.safetensors + .json)")
    p.add_argument("--benchmark", metavar="WIDTHS", help="time training steps for these widths (e.g. 64,48,32) and exit")
    harness.add_run_args(p, require_out=False)
    return p


def check_args(args: argparse.Namespace) -> None:
    if args.batch < 1:
        raise StudioError("--batch must be 1 or more")
    for flag in ("lr", "encoder_lr"):
        if not getattr(args, flag) > 0:
            raise StudioError(f"--{flag.replace('_', '-')} must be positive")
    if not 0 <= args.label_smooth < 0.5:
        raise StudioError("--label-smooth must be in [0, 0.5)")
    if args.pixel_weight < 0:
        raise StudioError("--pixel-weight must be 0 or more")
    if args.sample_every < 1:
        raise StudioError("--sample-every must be 1 or more")
    if min(args.ngf, args.ndf, args.nef) < 1:
        raise StudioError("--ngf, --ndf and --nef must be 1 or more")
    if args.benchmark is None and args.data is None:
        raise StudioError("--data (a folder of face images) is required")


def arch_config(args: argparse.Namespace) -> dict:
    return dict(nz=NZ, ngf=args.ngf, ndf=args.ndf, nef=args.nef, d_norm=args.d_norm)


def build_net(args: argparse.Namespace, device) -> DCGAN64:
    # Same initial weights on every rank and for any process count (DDP would broadcast
    # G and D anyway, but E is not trained in the GAN phase and must match too).
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        net = DCGAN64(**arch_config(args))
    net = net.to(device)
    if args.channels_last:
        net = net.to(memory_format=torch.channels_last)
    return net


def _adam(params, lr: float, args) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=lr, betas=(args.beta1, args.beta2))


def gan_step(G, D, d_raw, opt_g, opt_d, real: torch.Tensor, args) -> dict[str, float]:
    """One D update and one G update on the same fake batch; returns the losses."""
    n = real.shape[0]
    z = sample_z(n, NZ, device=real.device)
    fake = G(z)

    d_real, d_fake = D(real), D(fake.detach())
    real_target = torch.full_like(d_real, 1.0 - args.label_smooth)
    loss_d = F.binary_cross_entropy_with_logits(d_real, real_target) + F.binary_cross_entropy_with_logits(
        d_fake, torch.zeros_like(d_fake)
    )
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()

    # G step through the plain D (not its DDP wrapper) with D's weights frozen: no D
    # gradients are computed or all-reduced; only G's, through G's wrapper.
    d_raw.requires_grad_(False)
    logits = d_raw(fake)
    loss_g = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))  # non-saturating
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    d_raw.requires_grad_(True)
    return {
        "loss_d": loss_d.item(),
        "loss_g": loss_g.item(),
        "D(x)": torch.sigmoid(d_real).mean().item(),
        "D(G(z))": torch.sigmoid(d_fake).mean().item(),
    }


def _to_device(x: torch.Tensor, device, channels_last: bool) -> torch.Tensor:
    x = x.to(device, non_blocking=True)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


@torch.no_grad()
def _generate(g_raw, z: torch.Tensor) -> torch.Tensor:
    # Eval mode (BatchNorm running statistics): what the app will see at inference.
    was_training = g_raw.training
    g_raw.eval()
    out = g_raw(z)
    g_raw.train(was_training)
    return out


# ----------------------------------------------------------------------------- phases


def train_gan(args, ctx: harness.Context) -> None:
    net = build_net(args, ctx.device)
    g_raw, d_raw = net.generator, net.discriminator
    opt_g = _adam(g_raw.parameters(), args.lr, args)
    opt_d = _adam(d_raw.parameters(), args.lr, args)
    run = harness.Run(args, modules={"model": net}, optimizers={"g": opt_g, "d": opt_d},
                      config=arch_config(args), phase="gan")
    train, _ = image_folder(args.data, holdout=args.val_holdout)
    run.log(f"{len(train)} training images from {args.data} ({args.val_holdout} held out), batch {args.batch} "
            f"x {ctx.world_size} process(es), ngf {args.ngf} ndf {args.ndf} d_norm {args.d_norm}")
    batches = harness.InfiniteBatches(train, args.batch, seed=args.seed)
    if not run.resume(batches):
        gen = torch.Generator().manual_seed(args.seed + 12345)
        run.extra.update(fixed_z=sample_z(64, NZ, generator=gen), n_train=len(train))
        run.save_grid(train.get_batch(range(64)[: len(train)]), "real")  # to check decoding and colours
    fixed_z = run.extra["fixed_z"].to(ctx.device)
    # Saved with the state: the card is usually written by the encoder phase, whose
    # command line does not repeat the GAN's settings.
    run.extra["gan_settings"] = _gan_settings(args, ctx)
    G, D = harness.wrap_ddp(g_raw, ctx), harness.wrap_ddp(d_raw, ctx)

    with run:
        while run.keep_going():
            real = _to_device(next(batches), ctx.device, args.channels_last)
            run.record(**gan_step(G, D, d_raw, opt_g, opt_d, real, args))
            if run.step % args.sample_every == 0:
                run.save_grid(_generate(g_raw, fixed_z), f"step_{run.step:06d}")
    run.save_grid(_generate(g_raw, fixed_z), "final")
    run.extra.update(gan_steps=run.step, gan_minutes=run.elapsed / 60)
    if args.export:
        export(args, net, run.extra, encoder_steps=0)


def train_encoder(args, ctx: harness.Context) -> None:
    net = build_net(args, ctx.device)
    g_raw, e_raw = net.generator, net.encoder
    opt_e = _adam(e_raw.parameters(), args.encoder_lr, args)
    run = harness.Run(args, modules={"model": net}, optimizers={"e": opt_e}, config=arch_config(args),
                      state_file=ENCODER_STATE, phase="encoder")
    _, val = image_folder(args.data, holdout=args.val_holdout, flip=False)
    if not run.resume():
        gan = _load_gan_state(args)
        run.load_modules(gan)
        run.extra.update(gan["extra"])
        run.extra.update(gan_steps=gan["step"], gan_minutes=gan["elapsed"] / 60)
        run.log(f"encoder starts from the GAN phase at step {gan['step']}")
    g_raw.eval().requires_grad_(False)  # G is frozen: only E learns
    E = harness.wrap_ddp(e_raw, ctx)
    fixed_z = run.extra["fixed_z"][:16].to(ctx.device)
    val_x = _to_device(val[:16].float().div(127.5).sub(1), ctx.device, args.channels_last)

    with run:
        while run.keep_going():
            z = sample_z(args.batch, NZ, device=ctx.device)
            with torch.no_grad():
                x = g_raw(z)
            z_hat = E(x)
            loss_z = F.mse_loss(z_hat, z)
            losses = {"loss_z": loss_z}
            loss = loss_z
            if args.pixel_weight > 0:
                loss_pix = F.l1_loss(g_raw(z_hat.clamp(-Z_LIMIT, Z_LIMIT)), x)
                loss = loss + args.pixel_weight * loss_pix
                losses["loss_pix"] = loss_pix
            opt_e.zero_grad(set_to_none=True)
            loss.backward()
            opt_e.step()
            run.record(**{k: v.item() for k, v in losses.items()})
            if run.step % args.sample_every == 0:
                run.save_grid(_encoder_grid(net, fixed_z, val_x), f"encoder_{run.step:06d}")
    run.save_grid(_encoder_grid(net, fixed_z, val_x), "encoder_final")
    if args.export:
        run.extra.update(encoder_minutes=run.elapsed / 60)
        export(args, net, run.extra, encoder_steps=run.step)


def _gan_settings(args, ctx: harness.Context) -> dict:
    return {"batch": args.batch * ctx.world_size, "lr": args.lr, "betas": [args.beta1, args.beta2],
            "label_smooth": args.label_smooth}


def _load_gan_state(args) -> dict:
    path = args.out / harness.STATE_FILE
    if not path.exists():
        raise StudioError(f"no GAN training state in {args.out}; run --phase gan there first")
    state = torch.load(path, map_location="cpu", weights_only=False)  # our own run folder
    if state.get("config") != arch_config(args):
        raise StudioError(f"{path} holds a GAN with {state.get('config')}; pass the same --ngf/--ndf/--nef/--d-norm")
    return state


@torch.no_grad()
def _encoder_grid(net: DCGAN64, z: torch.Tensor, val_x: torch.Tensor) -> torch.Tensor:
    """Rows in pairs: held-out faces / G(E(face)), then G(z) / G(E(G(z)))."""
    was = net.encoder.training
    net.encoder.eval()
    g = net.generator
    gz = g(z)
    rows = []
    for x in (val_x, gz):
        rec = g(net.encoder(x).clamp(-Z_LIMIT, Z_LIMIT))
        for i in range(0, x.shape[0], 8):
            rows += [x[i : i + 8], rec[i : i + 8]]
    net.encoder.train(was)
    return torch.cat([r.contiguous() for r in rows])


# ----------------------------------------------------------------------------- export


def export(args, net: DCGAN64, facts: dict, *, encoder_steps: int) -> None:
    """Write the shipped checkpoint (rank 0): weights in float16 plus a model card."""
    if harness.is_main():
        from studio.checkpoints import save_checkpoint

        stem = args.export.with_suffix("") if args.export.suffix == ".safetensors" else args.export
        stem.parent.mkdir(parents=True, exist_ok=True)
        net = net.to("cpu", memory_format=torch.contiguous_format)
        card = {
            "title": "Face DCGAN 64x64 (generator, discriminator, encoder)",
            "task": "face inpainting by latent z-search",
            "method": "DCGAN (Radford et al. 2016); z-search inpainting (Yeh et al. 2017)",
            "training_data": f"CelebA-HQ faces at 64x64, {facts.get('n_train', '?')} images "
                             f"(the last {args.val_holdout} by file number held out)",
            "license": "Trained on CelebA-HQ: non-commercial research use only.",
            "z_prior": f"N(0, 1) in {NZ} dimensions, truncated to +-{Z_LIMIT:g}",
            "generator_output": "RGB in [-1, 1]; use eval mode",
            "discriminator_output": "logit (real > 0)",
            "encoder_trained": encoder_steps > 0,
            "hardware": harness.hardware_summary(),
            "wall_time_minutes": round(float(facts.get("gan_minutes", 0.0)) + float(facts.get("encoder_minutes", 0.0)), 1),
            "trained_with": "studio train dcgan --data DIR --out RUN, then --phase encoder --export STEM",
            "training": {
                "gan_steps": int(facts.get("gan_steps", 0)),
                "gan_minutes": round(float(facts.get("gan_minutes", 0.0)), 1),
                "encoder_steps": int(encoder_steps),
                "encoder_minutes": round(float(facts.get("encoder_minutes", 0.0)), 1),
                "encoder_pixel_weight": args.pixel_weight,
                **facts.get("gan_settings", _gan_settings(args, harness.context())),
                "d_norm": args.d_norm,
            },
        }
        path = save_checkpoint(net, stem, architecture="dcgan64", config=dict(net.config), card=card)
        print(f"exported {path}", flush=True)
    harness.barrier()


# ----------------------------------------------------------------------------- benchmark


def benchmark(args) -> None:
    """Seconds per GAN step at --batch for each width, with and without channels-last."""
    if args.threads:
        torch.set_num_threads(args.threads)
    widths = [int(w) for w in args.benchmark.split(",") if w.strip()]
    steps = 6
    print(f"batch {args.batch}, {torch.get_num_threads()} threads, median of {steps} steps after 2 warm-up")
    print(f"{'width':>5} {'channels_last':>13} {'s/step':>7} {'steps/s':>7}")
    for w in widths:
        for cl in (False, True):
            a = argparse.Namespace(**{**vars(args), "ngf": w, "ndf": w, "nef": w, "channels_last": cl})
            net = build_net(a, torch.device("cpu"))
            g, d = net.generator, net.discriminator
            opt_g, opt_d = _adam(g.parameters(), a.lr, a), _adam(d.parameters(), a.lr, a)
            real = _to_device(torch.rand(a.batch, 3, 64, 64) * 2 - 1, "cpu", cl)
            times = []
            for _ in range(steps + 2):
                t = time.perf_counter()
                gan_step(g, d, d, opt_g, opt_d, real, a)
                times.append(time.perf_counter() - t)
            med = sorted(times[2:])[steps // 2]
            print(f"{w:>5} {str(cl):>13} {med:>7.3f} {1 / med:>7.2f}", flush=True)


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    check_args(args)
    if args.benchmark:
        return benchmark(args)
    ctx = harness.setup(args)
    (train_gan if args.phase == "gan" else train_encoder)(args, ctx)


if __name__ == "__main__":
    sys.exit(harness.run_main(main))
