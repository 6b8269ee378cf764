"""Train IcGAN for 64x64 face attribute editing, phase by phase, and export its checkpoints.

    studio train icgan --data ../shared/data/faces/celebahq/64 --out runs/icgan --max-minutes 30
    studio train icgan --data ... --out runs/icgan --phase encoder-z --max-minutes 8
    studio train icgan --data ... --out runs/icgan --phase encoder-y --max-minutes 4 --export checkpoints/icgan-faces64
    studio train icgan --data ... --out runs/icgan --phase judge --max-minutes 5 --export checkpoints/icgan-judge64

Phases (each resumable, with its own state file in the run folder; --max-minutes counts per phase):
  gan        conditional DCGAN G(z, y), D(x, y) on faces and their 18 attributes (state.pt)
  encoder-z  E_z learns z back from generated pairs G(z, y) -> z, G frozen (state-encoder-z.pt)
  encoder-y  E_y learns the attributes of real faces, multi-label BCE (state-encoder-y.pt)
  judge      a separate attribute classifier of another architecture and seed, for the
             benchmark only (state-judge.pt; --export writes the judge checkpoint)
--export in any other phase writes the IcGAN checkpoint from the run folder's states: G and D
(and E_z) from the encoder-z state when there is one, else from the GAN's; E_y from its own.
The widths are fixed by the first phase run in a folder (arch.json). The last --val-holdout
faces by file number are never trained on. Convolutions run under bfloat16 autocast where the
CPU supports it; BatchNorm running statistics are re-estimated in float32 at the end of a phase,
so eval mode (what the app uses) matches training. Runs the same under torchrun.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from studio.data.attributes import ATTRIBUTES, default_label_file, labels_for, read_labels
from studio.data.images import list_images, split_holdout
from studio.errors import StudioError
from studio.nets.icgan import NZ, Z_LIMIT, AttributeJudge, IcGAN64, sample_z
from studio.train import harness
from studio.train.data import load_images
from studio.train.harness import autocast, cosine_lr, use_bf16

PHASES = ("gan", "encoder-z", "encoder-y", "judge")
STATE_FILES = {"gan": harness.STATE_FILE, "encoder-z": "state-encoder-z.pt", "encoder-y": "state-encoder-y.pt",
               "judge": "state-judge.pt"}
ARCH_FILE = "arch.json"
WIDTHS = {"ngf": 64, "ndf": 64, "nef": 64, "ney": 32}  # defaults when a run folder starts
JUDGE_SEED_OFFSET = 7919  # the judge must not share E_y's initialisation or data order
GRID_FLIPS = ("Smiling", "Male", "Eyeglasses", "Blond_Hair", "Black_Hair", "Bangs", "Mouth_Slightly_Open")


# ----------------------------------------------------------------------------- arguments


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="studio train icgan", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--data", type=Path, help="folder of 64x64 faces named like CelebA-HQ (1.jpg ...)")
    p.add_argument("--attrs", type=Path, help="CelebA attribute file (default: list_attr.txt beside --data)")
    p.add_argument("--phase", choices=PHASES, default="gan", help="what to train (default: gan)")
    p.add_argument("--val-holdout", type=int, default=1000,
                   help="last N files by number are validation, never trained on")
    p.add_argument("--batch", type=int, default=64, help="batch size per process")
    p.add_argument("--lr", type=float, default=2e-4, help="Adam learning rate of G and D")
    p.add_argument("--beta1", type=float, default=0.5)
    p.add_argument("--beta2", type=float, default=0.999)
    p.add_argument("--label-smooth", type=float, default=0.1, help="one-sided: D's target for real images is 1 - this")
    p.add_argument("--ac-weight", type=float, default=1.0, help="weight of the auxiliary attribute loss (AC-GAN)")
    p.add_argument("--flip-frac", type=float, default=0.0,
                   help="phase gan: this fraction of fakes get a real face's labels with one attribute (picked "
                        "uniformly, so rare ones as often as common ones) flipped, as an edit does")
    p.add_argument("--ey-weight", type=float, default=0.0,
                   help="phase gan: weight of a loss asking the run's trained E_y (frozen; run --phase encoder-y "
                        "first) to read the asked attributes in G's faces")
    for k, v in WIDTHS.items():
        p.add_argument(f"--{k}", type=int, default=None,
                       help=f"width (default {v}; fixed by the run folder's first phase)")
    p.add_argument("--g-cond", choices=("input", "cbn"), default=None,
                   help="how y reaches G: at the input only (default) or also through conditional batch norm in "
                        "every layer; fixed by the run folder's first phase")
    p.add_argument("--judge-width", type=int, default=24, help="judge classifier width (phase judge)")
    p.add_argument("--encoder-lr", type=float, default=5e-4, help="Adam learning rate of E_z (cosine decay)")
    p.add_argument("--pixel-weight", type=float, default=0.5, help="weight of L1(G(E_z(x), y), x) in phase encoder-z")
    p.add_argument("--classifier-lr", type=float, default=1e-3,
                   help="Adam learning rate of E_y and the judge (cosine decay)")
    p.add_argument("--directions-n", type=int, default=5000,
                   help="training faces whose E_z codes give the latent directions")
    p.add_argument("--sample-every", type=int, default=500, help="write a sample grid every N steps")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                   help="bfloat16 autocast (default: on where the CPU or GPU supports it)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True,
                   help="channels-last memory format (faster CPU convolutions)")
    p.add_argument("--export", type=Path, help="at the end, write this checkpoint stem (.safetensors + .json)")
    p.add_argument("--benchmark", action="store_true", help="time a few steps of every phase at these widths and exit")
    harness.add_run_args(p, require_out=False)
    return p


def check_args(args) -> None:
    if args.batch < 2:
        raise StudioError("--batch must be 2 or more (BatchNorm)")
    for flag in ("lr", "encoder_lr", "classifier_lr"):
        if not getattr(args, flag) > 0:
            raise StudioError(f"--{flag.replace('_', '-')} must be positive")
    if not 0 <= args.label_smooth < 0.5:
        raise StudioError("--label-smooth must be in [0, 0.5)")
    if args.ac_weight < 0 or args.pixel_weight < 0 or args.ey_weight < 0:
        raise StudioError("--ac-weight, --ey-weight and --pixel-weight must be 0 or more")
    if not 0 <= args.flip_frac <= 1:
        raise StudioError("--flip-frac must be in [0, 1]")
    if args.sample_every < 1 or args.directions_n < 1 or args.judge_width < 1:
        raise StudioError("--sample-every, --directions-n and --judge-width must be 1 or more")
    if any(getattr(args, k) is not None and getattr(args, k) < 1 for k in WIDTHS):
        raise StudioError("widths must be 1 or more")
    if args.benchmark:
        return
    if args.data is None:
        raise StudioError("--data (a folder of face images) is required")
    if args.out is None:
        raise StudioError("--out (the run folder) is required")
    args.attrs = args.attrs or default_label_file(args.data)
    if args.attrs is None:
        raise StudioError(f"no list_attr.txt in or beside {args.data}; give the attribute file with --attrs")


def resolve_arch(args) -> dict:
    """The IcGAN's sizes: from the run folder's arch.json once a phase has run there."""
    path = Path(args.out) / ARCH_FILE if args.out else None
    saved = json.loads(path.read_text(encoding="utf-8")) if path is not None and path.is_file() else None
    arch = {"nz": NZ, "ny": len(ATTRIBUTES)}
    for k, default in WIDTHS.items():
        given = getattr(args, k)
        if saved is not None and given is not None and given != saved[k]:
            raise StudioError(f"{args.out} was started with --{k} {saved[k]} (asked {given}); use it or a new --out")
        arch[k] = saved[k] if saved is not None else (given or default)
    cond = saved.get("g_cond", "input") if saved is not None else (args.g_cond or "input")
    if saved is not None and args.g_cond is not None and args.g_cond != cond:
        raise StudioError(f"{args.out} was started with --g-cond {cond} (asked {args.g_cond}); use it or a new --out")
    if cond != "input":
        arch["g_cond"] = cond
    if saved is None and path is not None and harness.is_main():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**arch, "attributes": list(ATTRIBUTES)}, indent=2) + "\n", encoding="utf-8")
    harness.barrier()
    return arch


# ----------------------------------------------------------------------------- data


class LabelledFaces(torch.utils.data.Dataset):
    """uint8 faces in memory with their +1/-1 labels; batches of (x in [-1, 1], y)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, *, flip: bool = True):
        self.images, self.labels, self.flip = images, labels, flip

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int):
        x, y = self.get_batch([i])
        return x[0], y[0]

    def get_batch(self, indices):
        idx = torch.as_tensor(indices, dtype=torch.long)
        x = self.images[idx].float().div_(127.5).sub_(1.0)
        if self.flip:  # every one of the 18 attributes survives a mirror image
            m = torch.rand(x.shape[0]) < 0.5
            x[m] = x[m].flip(-1)
        return x, self.labels[idx]


def load_faces(args, *, images: bool = True, limit: int | None = None):
    """(training LabelledFaces, validation (uint8 images, labels)); images=False leaves the
    training images out (an empty tensor) when only their labels are needed."""
    labels = read_labels(args.attrs)
    train_files, val_files = split_holdout(list_images(args.data), args.val_holdout)
    if limit is not None and limit < len(train_files):  # evenly spread, not just the first files
        train_files = [train_files[i] for i in np.linspace(0, len(train_files) - 1, limit).round().astype(int)]
    ty = torch.from_numpy(labels_for(train_files, labels))
    tx = load_images(train_files, 64) if images else torch.empty(0, 3, 64, 64, dtype=torch.uint8)
    vx = load_images(val_files, 64) if val_files else torch.empty(0, 3, 64, 64, dtype=torch.uint8)
    vy = torch.from_numpy(labels_for(val_files, labels)) if val_files else torch.empty(0, len(ATTRIBUTES))
    return LabelledFaces(tx, ty), (vx, vy)


def _dev(x: torch.Tensor, args, device) -> torch.Tensor:
    x = x.to(device, non_blocking=True)
    return x.contiguous(memory_format=torch.channels_last) if args.channels_last and x.dim() == 4 else x


def _to01(y: torch.Tensor) -> torch.Tensor:
    return (y + 1) * 0.5  # +1/-1 labels -> BCE targets


# ----------------------------------------------------------------------------- nets


def build_net(arch: dict, args, device) -> IcGAN64:
    # Same initial weights on every rank and in every phase (parts a phase does not train
    # are loaded from the other phases' states anyway).
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        net = IcGAN64(**arch)
    net = net.to(device)
    return net.to(memory_format=torch.channels_last) if args.channels_last else net


def build_judge(args, device) -> AttributeJudge:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed + JUDGE_SEED_OFFSET)
        judge = AttributeJudge(len(ATTRIBUTES), args.judge_width)
    judge = judge.to(device)
    return judge.to(memory_format=torch.channels_last) if args.channels_last else judge


def _adam(params, lr: float, args) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=lr, betas=(args.beta1, args.beta2))


@torch.no_grad()
def recalibrate_bn(module: nn.Module, make_input, batches: int = 40) -> None:
    """Re-estimate BatchNorm running statistics as a plain average over `batches` float32
    forward passes in training mode: the exponential average kept during (bf16) training
    follows the last few hundred steps' weights, not the final ones."""
    bns = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    saved = [(m.momentum, m.training) for m in bns]
    was = module.training
    module.train()
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    for _ in range(batches):
        module(*make_input())
    for m, (mom, _) in zip(bns, saved):
        m.momentum = mom
    module.train(was)


def _sample_y(pool: torch.Tensor, n: int, device) -> torch.Tensor:
    """Attribute vectors drawn from real faces' labels: only combinations that occur."""
    return pool[torch.randint(len(pool), (n,))].to(device)


# ----------------------------------------------------------------------------- phase gan


def flip_one(y: torch.Tensor, frac: float) -> torch.Tensor:
    """A copy of the labels where a `frac` share of rows has one uniformly chosen attribute negated."""
    if frac <= 0:
        return y
    n, k = y.shape
    rows = torch.rand(n, device=y.device) < frac
    cols = torch.randint(k, (n,), device=y.device)
    out = y.clone()
    out[rows, cols[rows]] = -out[rows, cols[rows]]
    return out


def frozen_encoder_y(args, arch: dict, device) -> nn.Module | None:
    """The run's trained E_y, frozen in eval mode, for --ey-weight (None when the weight is 0)."""
    if args.ey_weight <= 0:
        return None
    state = _load_state(args, "encoder-y", required=False)
    if state is None:
        raise StudioError(f"--ey-weight needs a trained E_y in {args.out}: run --phase encoder-y there first")
    ey = IcGAN64(**arch).encoder_y
    ey.load_state_dict(state["modules"]["net"])
    ey = ey.to(device, memory_format=torch.channels_last if args.channels_last else torch.contiguous_format)
    return ey.eval().requires_grad_(False)


def gan_step(G, D, d_raw, opt_g, opt_d, real, y, args, bf16: bool, ey: nn.Module | None = None) -> dict[str, float]:
    """One D update and one G update on the same fake batch. Fakes take the real batch's labels,
    some with one attribute flipped (--flip-frac); with a frozen E_y, G is also asked to make
    its faces read as the labels it was given (--ey-weight)."""
    n, dev = real.shape[0], real.device
    z = sample_z(n, NZ, device=dev)
    target = _to01(y)
    y_fake = flip_one(y, args.flip_frac)
    with autocast(dev, bf16):
        fake = G(z, y_fake)
        adv_r, cls_r = D(real, y)
        adv_f, _ = D(fake.detach(), y_fake)
    adv_r, adv_f, cls_r = adv_r.float(), adv_f.float(), cls_r.float()
    loss_adv = F.binary_cross_entropy_with_logits(adv_r, torch.full_like(adv_r, 1 - args.label_smooth)) + \
        F.binary_cross_entropy_with_logits(adv_f, torch.zeros_like(adv_f))
    loss_cls = F.binary_cross_entropy_with_logits(cls_r, target)  # D learns attributes on real faces only
    target_fake = _to01(y_fake)
    opt_d.zero_grad(set_to_none=True)
    (loss_adv + args.ac_weight * loss_cls).backward()
    opt_d.step()

    # G through the plain D with D frozen: no D gradients computed or all-reduced.
    d_raw.requires_grad_(False)
    with autocast(dev, bf16):
        adv_g, cls_g = d_raw(fake, y_fake)
        ey_logits = ey(fake) if ey is not None else None
    loss_g = F.binary_cross_entropy_with_logits(adv_g.float(), torch.ones_like(adv_r))  # non-saturating
    loss_gc = F.binary_cross_entropy_with_logits(cls_g.float(), target_fake)
    total = loss_g + args.ac_weight * loss_gc
    out = {}
    if ey_logits is not None:
        loss_ey = F.binary_cross_entropy_with_logits(ey_logits.float(), target_fake)
        total = total + args.ey_weight * loss_ey
        out["ey_fake"] = loss_ey.item()
    opt_g.zero_grad(set_to_none=True)
    total.backward()
    opt_g.step()
    d_raw.requires_grad_(True)
    return {"loss_d": loss_adv.item(), "loss_g": loss_g.item(), "cls_real": loss_cls.item(), "cls_fake": loss_gc.item(),
            **out, "D(x)": torch.sigmoid(adv_r).mean().item(), "D(G(z))": torch.sigmoid(adv_f).mean().item()}


def grid_inputs(pool: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """8 rows (z, real y) x 8 columns: y as is, then with one GRID_FLIPS attribute flipped."""
    gen = torch.Generator().manual_seed(seed + 12345)
    z = sample_z(8, NZ, generator=gen)
    base = pool[torch.randperm(len(pool), generator=gen)[torch.arange(8) % len(pool)]]
    zs, ys = [], []
    for i in range(8):
        for c in range(8):
            y = base[i].clone()
            if c:
                a = ATTRIBUTES.index(GRID_FLIPS[c - 1])
                y[a] = -y[a]
            zs.append(z[i])
            ys.append(y)
    return torch.stack(zs), torch.stack(ys)


@torch.no_grad()
def _generate(g_raw, z, y) -> torch.Tensor:
    was = g_raw.training
    g_raw.eval()  # BatchNorm running statistics: what the app sees
    out = g_raw(z, y)
    g_raw.train(was)
    return out


def train_gan(args, ctx, arch) -> None:
    net = build_net(arch, args, ctx.device)
    g_raw, d_raw = net.generator, net.discriminator
    opt_g, opt_d = _adam(g_raw.parameters(), args.lr, args), _adam(d_raw.parameters(), args.lr, args)
    run = harness.Run(args, modules={"model": net}, optimizers={"g": opt_g, "d": opt_d}, config=arch, phase="gan")
    train, _ = load_faces(args)
    bf16 = use_bf16(args, ctx.device)
    ey = frozen_encoder_y(args, arch, ctx.device)
    run.log(f"{len(train)} training faces ({args.val_holdout} held out), batch {args.batch} x {ctx.world_size}, "
            f"widths {arch}, bf16 {'on' if bf16 else 'off'}, ac-weight {args.ac_weight}, "
            f"flip-frac {args.flip_frac}, ey-weight {args.ey_weight}")
    batches = harness.InfiniteBatches(train, args.batch, seed=args.seed)
    if not run.resume(batches):
        run.save_grid(train.get_batch(range(min(64, len(train))))[0], "real")
    fixed_z, fixed_y = (t.to(ctx.device) for t in grid_inputs(train.labels, args.seed))
    run.extra["gan_settings"] = {"batch": args.batch * ctx.world_size, "lr": args.lr, "betas": [args.beta1, args.beta2],
                                 "label_smooth": args.label_smooth, "ac_weight": args.ac_weight, "bf16": bf16}
    if args.flip_frac > 0 or args.ey_weight > 0:  # settings of this session: a resume may add them
        run.extra.setdefault("gan_fine_tune", []).append(
            {"from_step": run.step, "flip_frac": args.flip_frac, "ey_weight": args.ey_weight})
    run.extra["n_train"] = len(train)
    G, D = harness.wrap_ddp(g_raw, ctx), harness.wrap_ddp(d_raw, ctx)
    with run:
        while run.keep_going():
            x, y = next(batches)
            run.record(**gan_step(G, D, d_raw, opt_g, opt_d, _dev(x, args, ctx.device), y.to(ctx.device), args, bf16,
                                  ey))
            if run.step % args.sample_every == 0:
                run.save_grid(_generate(g_raw, fixed_z, fixed_y), f"gan_{run.step:06d}")
        recalibrate_bn(g_raw, lambda: (sample_z(args.batch, NZ, device=ctx.device),
                                       _sample_y(train.labels, args.batch, ctx.device)))
        run.extra.update(gan_steps=run.step, gan_minutes=run.elapsed / 60)
    run.save_grid(_generate(g_raw, fixed_z, fixed_y), "gan_final")
    if args.export:
        export(args, arch)


# ----------------------------------------------------------------------------- phase encoder-z


def _load_state(args, phase: str, required: bool = True) -> dict | None:
    path = Path(args.out) / STATE_FILES[phase]
    if not path.exists():
        if required:
            raise StudioError(f"no {phase} training state in {args.out}; run --phase {phase} there first")
        return None
    return torch.load(path, map_location="cpu", weights_only=False)  # our own run folder's private state


def train_encoder_z(args, ctx, arch) -> None:
    net = build_net(arch, args, ctx.device)
    g_raw, e_raw = net.generator, net.encoder_z
    opt = _adam(e_raw.parameters(), args.encoder_lr, args)
    run = harness.Run(args, modules={"model": net}, optimizers={"e": opt}, config=arch,
                      state_file=STATE_FILES["encoder-z"], phase="encoder-z")
    train, (vx, vy) = load_faces(args, images=False)
    if not run.resume():
        gan = _load_state(args, "gan")
        net.load_state_dict(gan["modules"]["model"])
        run.extra.update(gan_steps=gan["step"], gan_minutes=gan["elapsed"] / 60)
        run.log(f"E_z starts from the GAN phase at step {gan['step']}")
    bf16 = use_bf16(args, ctx.device)
    g_raw.eval().requires_grad_(False)  # G is frozen, and in eval mode as the app runs it
    E = harness.wrap_ddp(e_raw, ctx)
    pool = train.labels
    show_x, show_y = _dev(vx[:16].float().div(127.5).sub(1), args, ctx.device), vy[:16].to(ctx.device)
    with run:
        while run.keep_going():
            for g in opt.param_groups:
                g["lr"] = cosine_lr(args.encoder_lr, run)
            z = sample_z(args.batch, NZ, device=ctx.device)
            y = _sample_y(pool, args.batch, ctx.device)
            with torch.no_grad(), autocast(ctx.device, bf16):
                x = g_raw(z, y).float()
            with autocast(ctx.device, bf16):
                z_hat = E(x.contiguous(memory_format=torch.channels_last) if args.channels_last else x).float()
            loss_z = F.mse_loss(z_hat, z)
            losses = {"loss_z": loss_z}
            loss = loss_z
            if args.pixel_weight > 0:  # what matters is the picture G paints from z_hat
                with autocast(ctx.device, bf16):
                    rec = g_raw(z_hat.clamp(-Z_LIMIT, Z_LIMIT), y).float()
                losses["loss_pix"] = F.l1_loss(rec, x)
                loss = loss + args.pixel_weight * losses["loss_pix"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            run.record(**{k: v.item() for k, v in losses.items()})
            if run.step % args.sample_every == 0 and len(show_x):
                run.save_grid(_encoder_grid(net, show_x, show_y), f"encoder_z_{run.step:06d}")

        def generated():
            with torch.no_grad():
                return (g_raw(sample_z(args.batch, NZ, device=ctx.device), _sample_y(pool, args.batch, ctx.device)),)

        recalibrate_bn(e_raw, generated)
        run.extra["encoder_z_minutes"] = run.elapsed / 60
    if len(show_x):
        run.save_grid(_encoder_grid(net, show_x, show_y), "encoder_z_final")
    if args.export:
        export(args, arch)


@torch.no_grad()
def _encoder_grid(net: IcGAN64, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Rows in pairs: held-out faces / G(E_z(face), true attributes)."""
    was = net.encoder_z.training
    net.encoder_z.eval()
    rec = net.generator(net.encoder_z(x).clamp(-Z_LIMIT, Z_LIMIT), y)
    net.encoder_z.train(was)
    rows = []
    for i in range(0, x.shape[0], 8):
        rows += [x[i:i + 8], rec[i:i + 8]]
    return torch.cat([r.contiguous() for r in rows])


# ----------------------------------------------------------------------------- classifiers


@torch.no_grad()
def accuracy(classifier: nn.Module, x_uint8: torch.Tensor, y: torch.Tensor, device, batch: int = 250) -> np.ndarray:
    """Per-attribute accuracy (sign of the logit vs the +1/-1 label), eval mode, float32."""
    was = classifier.training
    classifier.eval()
    hits = torch.zeros(y.shape[1])
    for i in range(0, len(x_uint8), batch):
        x = x_uint8[i:i + batch].float().div(127.5).sub(1).to(device)
        hits += ((classifier(x).float() > 0).cpu() == (y[i:i + batch] > 0)).float().sum(0)
    classifier.train(was)
    return (hits / max(1, len(x_uint8))).numpy()


def train_classifier(args, ctx, phase: str, arch: dict | None) -> None:
    """Phase encoder-y (E_y inside the IcGAN) or judge (a separate AttributeJudge)."""
    if phase == "judge":
        raw: nn.Module = build_judge(args, ctx.device)
        config = {"ny": len(ATTRIBUTES), "width": args.judge_width, "attributes": list(ATTRIBUTES)}
        seed = args.seed + JUDGE_SEED_OFFSET
    else:
        raw = build_net(arch, args, ctx.device).encoder_y
        config = {**arch, "attributes": list(ATTRIBUTES)}
        seed = args.seed
    opt = torch.optim.Adam(raw.parameters(), lr=args.classifier_lr)
    run = harness.Run(args, modules={"net": raw}, optimizers={"opt": opt}, config=config,
                      state_file=STATE_FILES[phase], phase=phase)
    train, (vx, vy) = load_faces(args)
    bf16 = use_bf16(args, ctx.device)
    run.log(f"{len(train)} training faces, {len(vx)} validation, batch {args.batch} x {ctx.world_size}, bf16 {bf16}")
    batches = harness.InfiniteBatches(train, args.batch, seed=seed)
    run.resume(batches)
    net = harness.wrap_ddp(raw, ctx)
    with run:
        while run.keep_going():
            for g in opt.param_groups:
                g["lr"] = cosine_lr(args.classifier_lr, run)
            x, y = next(batches)
            with autocast(ctx.device, bf16):
                logits = net(_dev(x, args, ctx.device)).float()
            y = y.to(ctx.device)
            loss = F.binary_cross_entropy_with_logits(logits, _to01(y))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            run.record(bce=loss.item(), acc=((logits > 0) == (y > 0)).float().mean().item())
        recalibrate_bn(raw, lambda: (_dev(next(batches)[0], args, ctx.device),))
        if harness.is_main() and len(vx):
            acc = accuracy(raw, vx, vy, ctx.device)
            run.extra["val_accuracy"] = {a: round(float(v), 4) for a, v in zip(ATTRIBUTES, acc)}
            run.extra["val_accuracy_mean"] = round(float(acc.mean()), 4)
            per = ", ".join(f"{a} {v:.2f}" for a, v in zip(ATTRIBUTES, acc))
            run.log(f"validation accuracy {acc.mean():.3f} ({per})")
        run.extra.update(steps=run.step, minutes=run.elapsed / 60, n_train=len(train))
    if args.export:
        (export_judge(args, raw, run.extra) if phase == "judge" else export(args, arch))


# ----------------------------------------------------------------------------- export


def _stem(path: Path) -> Path:
    return path.with_suffix("") if path.suffix == ".safetensors" else path


@torch.no_grad()
def latent_directions(net: IcGAN64, args, device) -> torch.Tensor:
    """Per attribute: mean E_z code of training faces with it minus mean code of those without."""
    train, _ = load_faces(args, limit=args.directions_n)
    net.encoder_z.eval()
    codes = []
    for i in range(0, len(train), 250):
        x = train.images[i:i + 250].float().div(127.5).sub(1).to(device)
        codes.append(net.encoder_z(x).float().clamp(-Z_LIMIT, Z_LIMIT).cpu())
    z, y = torch.cat(codes), train.labels
    dirs = torch.zeros(len(ATTRIBUTES), z.shape[1])
    for a in range(len(ATTRIBUTES)):
        pos, neg = y[:, a] > 0, y[:, a] < 0
        if pos.any() and neg.any():
            dirs[a] = z[pos].mean(0) - z[neg].mean(0)
    return dirs


def export(args, arch: dict) -> None:
    """Write the IcGAN checkpoint (rank 0) from the run folder's phase states."""
    if harness.is_main():
        from studio.checkpoints import save_checkpoint

        gan, enc_z, enc_y = (_load_state(args, p, required=(p == "gan")) for p in ("gan", "encoder-z", "encoder-y"))
        net = IcGAN64(**arch)
        net.load_state_dict((enc_z or gan)["modules"]["model"])  # G, D (and E_z) as E_z last saw them
        if enc_y is not None:
            net.encoder_y.load_state_dict(enc_y["modules"]["net"])
        gan_steps = gan["step"]
        if enc_z is not None and enc_z["extra"].get("gan_steps", gan_steps) != gan_steps:
            print(f"note: the GAN trained on after E_z started (step {enc_z['extra']['gan_steps']} -> {gan_steps}); "
                  f"the checkpoint keeps the G that E_z learnt (delete {STATE_FILES['encoder-z']} to retrain E_z)")
            gan_steps = enc_z["extra"]["gan_steps"]
        dirs = latent_directions(net, args, torch.device("cpu")) if enc_z is not None else torch.zeros(net.ny, net.nz)
        net.directions.copy_(dirs)
        ey = (enc_y or {}).get("extra", {})
        card = {
            "title": "IcGAN 64x64 face attribute editor (G, D, E_z, E_y)",
            "task": "face attribute editing",
            "method": "IcGAN (Perarnau et al. 2016): conditional DCGAN with projection discriminator and "
                      "auxiliary attribute loss; E_z on generated pairs, E_y on real labels; latent "
                      "directions (mean E_z code with minus without an attribute) as an alternative edit",
            "attributes": list(ATTRIBUTES),
            "attribute_values": "+1 present, -1 absent (as in the CelebA label file); G accepts -2..2",
            "encoder_y_output": "logits (> 0: present); the editor's start value is 2*sigmoid(logit) - 1",
            "z_prior": f"N(0, 1) in {NZ} dimensions, truncated to +-{Z_LIMIT:g}",
            "generator_output": "RGB in [-1, 1]; use eval mode",
            "training_data": f"CelebA-HQ faces at 64x64 with CelebA attributes, {gan['extra'].get('n_train', '?')} "
                             f"images (the last {args.val_holdout} by file number held out)",
            "license": "Trained on CelebA-HQ: non-commercial research use only.",
            "hardware": harness.hardware_summary(),
            "wall_time_minutes": round(sum(s["elapsed"] for s in (gan, enc_z, enc_y) if s) / 60, 1),
            "trained_with": "studio train icgan --data DIR --out RUN --phase gan, then --phase encoder-z, "
                            "then --phase encoder-y --export STEM",
            "training": {
                "gan_steps": int(gan_steps), "gan_minutes": round(gan["elapsed"] / 60, 1),
                "encoder_z_steps": int((enc_z or {}).get("step", 0)),
                "encoder_z_minutes": round((enc_z or {}).get("elapsed", 0) / 60, 1),
                "encoder_y_steps": int((enc_y or {}).get("step", 0)),
                "encoder_y_minutes": round((enc_y or {}).get("elapsed", 0) / 60, 1),
                "encoder_z_pixel_weight": args.pixel_weight,
                "directions_from": int(args.directions_n) if enc_z is not None else 0,
                **gan["extra"].get("gan_settings", {}),
                **({"gan_fine_tune": gan["extra"]["gan_fine_tune"]} if gan["extra"].get("gan_fine_tune") else {}),
            },
        }
        if "val_accuracy" in ey:
            card["validation"] = {"encoder_y_accuracy_mean": ey["val_accuracy_mean"],
                                  "encoder_y_accuracy": ey["val_accuracy"]}
        stem = _stem(args.export)
        path = save_checkpoint(net, stem, architecture="icgan64", config=dict(net.config), card=card)
        missing = [p for p, s in (("encoder-z", enc_z), ("encoder-y", enc_y)) if s is None]
        print(f"exported {path}" + (f" (untrained: {', '.join(missing)})" if missing else ""), flush=True)
    harness.barrier()


def export_judge(args, judge: AttributeJudge, facts: dict) -> None:
    if harness.is_main():
        from studio.checkpoints import save_checkpoint

        card = {
            "title": "Face attribute judge 64x64 (benchmark only)",
            "task": "face attribute classification (scores IcGAN edits)",
            "method": "VGG-style classifier, multi-label BCE; trained apart from the IcGAN's E_y "
                      "(other architecture and seed)",
            "attributes": list(ATTRIBUTES),
            "output": "logits (> 0: present); input RGB in [-1, 1], eval mode",
            "training_data": f"CelebA-HQ faces at 64x64, {facts.get('n_train', '?')} images "
                             f"(the last {args.val_holdout} by file number held out)",
            "license": "Trained on CelebA-HQ: non-commercial research use only.",
            "hardware": harness.hardware_summary(),
            "wall_time_minutes": round(float(facts.get("minutes", 0)), 1),
            "training": {"steps": int(facts.get("steps", 0)), "batch": args.batch, "lr": args.classifier_lr},
        }
        if "val_accuracy" in facts:
            card["validation"] = {"accuracy_mean": facts["val_accuracy_mean"], "accuracy": facts["val_accuracy"]}
        path = save_checkpoint(judge.to("cpu", memory_format=torch.contiguous_format), _stem(args.export),
                               architecture="attr-judge64", config=dict(judge.config), card=card)
        print(f"exported {path}", flush=True)
    harness.barrier()


# ----------------------------------------------------------------------------- benchmark


def benchmark(args) -> None:
    """Median seconds per step of every phase at the given widths, bf16 off and on."""
    if args.threads:
        torch.set_num_threads(args.threads)
    arch = {"nz": NZ, "ny": len(ATTRIBUTES), **{k: getattr(args, k) or v for k, v in WIDTHS.items()},
            **({"g_cond": args.g_cond} if args.g_cond not in (None, "input") else {})}
    dev = torch.device("cpu")
    pool = torch.randint(0, 2, (256, len(ATTRIBUTES))).float() * 2 - 1
    real = _dev(torch.rand(args.batch, 3, 64, 64) * 2 - 1, args, dev)
    y = pool[: args.batch]
    print(f"batch {args.batch}, {torch.get_num_threads()} threads, widths {arch}, judge {args.judge_width}")
    for bf16 in (False, True):
        net = build_net(arch, args, dev)
        judge = build_judge(args, dev)
        g, d, ez, ey = net.generator, net.discriminator, net.encoder_z, net.encoder_y
        opt_g, opt_d, opt_e = (_adam(m.parameters(), 1e-4, args) for m in (g, d, ez))

        def ez_step():
            z = sample_z(args.batch, NZ)
            with torch.no_grad(), autocast(dev, bf16):
                x = g(z, y).float()
            with autocast(dev, bf16):
                zh = ez(x).float()
                loss = F.mse_loss(zh, z) + args.pixel_weight * F.l1_loss(g(zh, y).float(), x)
            opt_e.zero_grad()
            loss.backward()
            opt_e.step()

        def cls_step(m):
            o = torch.optim.Adam(m.parameters())

            def step():
                with autocast(dev, bf16):
                    loss = F.binary_cross_entropy_with_logits(m(real).float(), _to01(y))
                o.zero_grad()
                loss.backward()
                o.step()
            return step

        steps = {"gan": lambda: gan_step(g, d, d, opt_g, opt_d, real, y, args, bf16), "encoder-z": ez_step,
                 "encoder-y": cls_step(ey), "judge": cls_step(judge)}
        for name, fn in steps.items():
            times = []
            for _ in range(7):
                t = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t)
            med = sorted(times[2:])[2]
            print(f"{name:>10} bf16 {str(bf16):5} {med:.3f} s/step {1 / med:6.2f} steps/s", flush=True)


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    check_args(args)
    if args.benchmark:
        return benchmark(args)
    ctx = harness.setup(args)
    if args.phase == "judge":
        return train_classifier(args, ctx, "judge", None)
    arch = resolve_arch(args)
    if args.phase == "gan":
        train_gan(args, ctx, arch)
    elif args.phase == "encoder-z":
        train_encoder_z(args, ctx, arch)
    else:
        train_classifier(args, ctx, "encoder-y", arch)


if __name__ == "__main__":
    sys.exit(harness.run_main(main))
