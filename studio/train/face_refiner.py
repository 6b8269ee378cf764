"""Train the face refiner (studio/nets/face_refiner.py) on 256-px faces, export a checkpoint.

    studio train face-refiner --data ../shared/data/faces/celebahq/256 \
        --masks ../shared/data/masks/irregular --out runs/face-refiner \
        --export checkpoints/face-refiner

What it learns: to rebuild a real face from (a) the 64-px GAN's reconstruction of that face
brought to 256 px and (b) the face itself with a region blanked out. Inside the region it must
turn the GAN's coarse shapes into a sharp face in the photo's own colour and texture; the
same net then serves restoration (region = the hole, GAN face = the z-search's fill) and
attribute edits (region = where the edit changes the face, GAN face = the edited one).

The GAN faces come from both shipped generators, so the refiner knows the look of each:
DCGAN (encoder start plus a short z-search on the whole face, as the restoration engine's
search ends on known pixels) and IcGAN (E_z, E_y plus the edit engine's refinement). They are
computed once per run folder (coarse.npz; minutes) and kept for resumes.

Regions: the shipped irregular masks (--masks), boxes up to a centre 128x128, and ellipses
where attribute edits act (mouth, eyes, hair, cheeks). Loss: L1 inside the region (plus a
tenth of it outside), and after --adv-start steps a hinge PatchGAN term that keeps the fill
from averaging into blur, the fault of the old face fills. Adam, cosine learning rate.
"""

from __future__ import annotations

import argparse
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from studio.data.images import list_images, split_holdout
from studio.engines.face_refine import upsample
from studio.errors import StudioError
from studio.nets.face_refiner import FaceRefiner, PatchCritic
from studio.train import harness
from studio.train.harness import autocast, cosine_lr, use_bf16

SIZE = 256
COARSE = 64
GENERATORS = ("dcgan-faces64", "icgan-faces64")
DCGAN_STEPS = 60  # z-search steps from the encoder's guess: about the fit the engine's search reaches
ICGAN_STEPS = 15  # the edit engine's own refinement (REFINE_STEPS)


# ----------------------------------------------------------------------------- data


def load_faces(files: list[Path]) -> np.ndarray:
    """uint8 (N, 256, 256, 3) RGB; other sizes are area- or Lanczos-resized."""
    out = np.empty((len(files), SIZE, SIZE, 3), np.uint8)
    for i, p in enumerate(files):
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise StudioError(f"cannot read image {p}")
        if img.shape[:2] != (SIZE, SIZE):
            interp = cv2.INTER_AREA if img.shape[0] > SIZE else cv2.INTER_LANCZOS4
            img = cv2.resize(img, (SIZE, SIZE), interpolation=interp)
        out[i] = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return out


def to_64(faces: np.ndarray) -> torch.Tensor:
    """(N, 3, 64, 64) float in [-1, 1]: what the 64-px generators see (area downscale)."""
    small = np.stack([cv2.resize(f, (COARSE, COARSE), interpolation=cv2.INTER_AREA) for f in faces])
    return torch.from_numpy(small).permute(0, 3, 1, 2).float().div(127.5).sub(1)


def _fit_z(gen, z: torch.Tensor, x: torch.Tensor, steps: int, *extra) -> torch.Tensor:
    """A few Adam steps on z so gen(z, *extra) matches x (L1)."""
    z = z.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=0.05)
    for _ in range(steps):
        loss = (gen(z, *extra) - x).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            z.clamp_(-3.0, 3.0)
    return z.detach()


def reconstruct(faces: np.ndarray, name: str, batch: int = 100, log=print, steps: int | None = None) -> np.ndarray:
    """uint8 (N, 64, 64, 3): the named shipped generator's reconstruction of each face
    (steps: z-fitting steps, default DCGAN_STEPS or ICGAN_STEPS)."""
    from studio.checkpoints import load_model

    model, _ = load_model(name, "cpu")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    out = np.empty((len(faces), COARSE, COARSE, 3), np.uint8)
    for s in range(0, len(faces), batch):
        x = to_64(faces[s:s + batch])
        if name.startswith("icgan"):
            with torch.no_grad():
                y = torch.tanh(model.encoder_y(x).float() / 2)
                z = model.encoder_z(x).float().clamp(-3, 3)
            z = _fit_z(model.generator, z, x, ICGAN_STEPS if steps is None else steps, y)
            with torch.no_grad():
                g = model.generator(z, y)
        else:
            with torch.no_grad():
                z = model.encoder(x).float().clamp(-3, 3)
            z = _fit_z(model.generator, z, x, DCGAN_STEPS if steps is None else steps)
            with torch.no_grad():
                g = model.generator(z)
        out[s:s + len(x)] = g.clamp(-1, 1).add(1).mul(127.5).round().byte().permute(0, 2, 3, 1).numpy()
        if (s // batch) % 10 == 0:
            log(f"{name}: reconstructed {s + len(x)} / {len(faces)} faces")
    return out


def load_masks(folder: Path | None, limit: int = 4000) -> list[np.ndarray]:
    if folder is None:
        return []
    files = sorted(Path(folder).glob("*.png"))[:limit]
    masks = []
    for p in files:
        m = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        if m is not None:
            masks.append(cv2.resize(m, (SIZE, SIZE), interpolation=cv2.INTER_NEAREST) > 127)
    return masks


# Where attribute edits act on an aligned CelebA-HQ face: (centre x, centre y, half-width,
# half-height) as fractions of the side.
EDIT_REGIONS = {
    "mouth": (0.50, 0.76, 0.17, 0.09),
    "eyes": (0.50, 0.47, 0.30, 0.08),
    "hair": (0.50, 0.12, 0.45, 0.20),
    "cheek_l": (0.30, 0.64, 0.10, 0.12),
    "cheek_r": (0.70, 0.64, 0.10, 0.12),
    "beard": (0.50, 0.88, 0.25, 0.12),
}


def random_mask(rng: np.random.Generator, masks: list[np.ndarray]) -> np.ndarray:
    """A (256, 256) float32 region to rebuild: irregular, a box, or edit-like ellipses."""
    kind = rng.random()
    if masks and kind < 0.4:
        m = masks[rng.integers(len(masks))]
        m = np.rot90(m, rng.integers(4))
        return np.ascontiguousarray(m[:, ::-1] if rng.random() < 0.5 else m, dtype=np.float32)
    m = np.zeros((SIZE, SIZE), np.float32)
    if kind < 0.7:
        w, h = rng.integers(48, 161, size=2)
        cx, cy = rng.integers(SIZE // 2 - 40, SIZE // 2 + 41, size=2)
        m[max(0, cy - h // 2):cy + h // 2, max(0, cx - w // 2):cx + w // 2] = 1
        return m
    names = list(EDIT_REGIONS)
    for i in rng.choice(len(names), size=rng.integers(1, 3), replace=False):
        cx, cy, a, b = EDIT_REGIONS[names[i]]
        j = rng.normal(0, 0.03, 4)
        centre = (int((cx + j[0]) * SIZE), int((cy + j[1]) * SIZE))
        axes = (max(4, int((a + j[2]) * SIZE)), max(4, int((b + j[3]) * SIZE)))
        cv2.ellipse(m, centre, axes, 0, 0, 360, 1.0, -1)
    return m


def degraded_64(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint8 (64, 64, 3): the face itself at 64 px, blurred, shifted, recoloured and noisy: a
    coarse face that is right in its shapes, so the refiner also learns to draw sharp detail
    that follows them (a GAN face alone is too far from the truth for that to be learnt)."""
    small = cv2.resize(face, (COARSE, COARSE), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    angle, scale = rng.normal(0, 2), 1 + rng.normal(0, 0.03)
    A = cv2.getRotationMatrix2D((COARSE / 2, COARSE / 2), angle, scale)
    A[:, 2] += rng.normal(0, 1.0, 2)
    small = cv2.warpAffine(small, A, (COARSE, COARSE), borderMode=cv2.BORDER_REFLECT_101)
    small = cv2.GaussianBlur(small, (0, 0), rng.uniform(0.4, 1.2))
    small = small * rng.uniform(0.9, 1.1, 3) + rng.normal(0, 0.04, 3) + rng.normal(0, 0.015, small.shape)
    return np.clip(small * 255, 0, 255).round().astype(np.uint8)


class RefinerData:
    """Faces, their GAN reconstructions and random regions, served as whole batches;
    `truth_share` of the coarse faces are the face itself, degraded (degraded_64)."""

    def __init__(self, faces: np.ndarray, coarse: list[np.ndarray], masks: list[np.ndarray], seed: int = 0,
                 truth_share: float = 0.0):
        self.faces, self.coarse, self.masks = faces, coarse, masks
        self.truth_share = truth_share
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.faces)

    def get_batch(self, indices) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        idx = np.asarray(indices)
        which = self.rng.integers(len(self.coarse), size=len(idx))
        small = np.stack([degraded_64(self.faces[i], self.rng) if self.rng.random() < self.truth_share
                          else self.coarse[w][i] for w, i in zip(which, idx)])
        target = torch.from_numpy(self.faces[idx]).permute(0, 3, 1, 2).float().div(127.5).sub(1)
        coarse = upsample(torch.from_numpy(small).permute(0, 3, 1, 2).float().div(127.5).sub(1))
        mask = torch.from_numpy(np.stack([random_mask(self.rng, self.masks) for _ in idx]))[:, None]
        flip = torch.from_numpy(self.rng.random(len(idx)) < 0.5)
        for t in (target, coarse, mask):  # faces are near-symmetric: a mirrored face is a new sample
            t[flip] = t[flip].flip(-1)
        return target, coarse, mask


def coarse_cache(run: harness.Run, faces: np.ndarray, files: list[Path], steps: int | None) -> list[np.ndarray]:
    """The generators' reconstructions, computed once and kept in the run folder."""
    path = run.dir / "coarse.npz"
    key = np.array([len(files), zlib.crc32(" ".join(p.name for p in files).encode())])

    def cached():
        if path.is_file():
            data = np.load(path)
            if np.array_equal(data["key"], key):
                return [data[n] for n in GENERATORS]
        return None

    if harness.is_main() and cached() is None:  # rank 0 computes; the other ranks read its file
        run.log("computing the generators' reconstructions of the training faces (once per run folder)")
        recs = [reconstruct(faces, n, log=run.log, steps=steps) for n in GENERATORS]
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, key=key, **dict(zip(GENERATORS, recs)))
        tmp.replace(path)
    harness.barrier()
    return cached()


# ----------------------------------------------------------------------------- validation


def centre_mask(n: int) -> torch.Tensor:
    m = torch.zeros(n, 1, SIZE, SIZE)
    m[..., SIZE // 4:3 * SIZE // 4, SIZE // 4:3 * SIZE // 4] = 1
    return m


@torch.no_grad()
def validate(net: FaceRefiner, val: tuple, device, bf16: bool) -> dict:
    """Hole PSNR (centre 128x128) of the refiner and of the plain upscaled reconstruction."""
    target, coarse = val
    mask = centre_mask(len(target))
    was = net.training
    net.eval()
    outs = []
    for s in range(0, len(target), 8):
        with autocast(device, bf16):
            outs.append(net(coarse[s:s + 8].to(device), target[s:s + 8].to(device), mask[s:s + 8].to(device)).float().cpu())
    net.train(was)
    out = torch.cat(outs).clamp(-1, 1)

    def hole_psnr(x):
        err = ((x - target) / 2).pow(2).mul(mask).flatten(1).sum(1) / mask.flatten(1).sum(1)
        return float((10 * torch.log10(1 / err.clamp(min=1e-10))).mean())

    return {"hole_psnr": hole_psnr(out), "coarse_hole_psnr": hole_psnr(coarse), "out": out}


def sample_grid(val: tuple, out: torch.Tensor, n: int = 6) -> torch.Tensor:
    """Columns per face: masked input, GAN face, refined, original."""
    target, coarse = val
    n = min(n, len(target))
    mask = centre_mask(n)
    tiles = []
    for i in range(n):
        masked = target[i] * (1 - mask[i])
        tiles += [masked, coarse[i], out[i] * mask[i] + target[i] * (1 - mask[i]), target[i]]
    return torch.stack(tiles)


# ----------------------------------------------------------------------------- training


def hinge_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def train(args, ctx: harness.Context) -> None:
    config = dict(width=args.width, blocks=args.blocks)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        net = FaceRefiner(**config).to(ctx.device)
        critic = PatchCritic(args.critic_width).to(ctx.device)
    opt_g = torch.optim.Adam(net.parameters(), lr=args.lr, betas=(0.5, 0.99))
    opt_d = torch.optim.Adam(critic.parameters(), lr=args.lr, betas=(0.5, 0.99))
    run = harness.Run(args, modules={"refiner": net, "critic": critic}, optimizers={"g": opt_g, "d": opt_d},
                      config=config, phase="face-refiner")
    train_files, val_files = split_holdout(list_images(args.data), args.val_holdout)
    if args.limit:
        train_files = train_files[:args.limit]
    faces = load_faces(train_files)
    val_faces = load_faces(val_files)
    coarse = coarse_cache(run, faces, train_files, args.fit_steps)
    val_coarse = reconstruct(val_faces, GENERATORS[0], log=lambda *_: None, steps=args.fit_steps)
    masks = load_masks(args.masks)
    run.log(f"{len(faces)} training faces, {len(val_faces)} validation faces, {len(masks)} irregular masks; "
            f"batch {args.batch} x {harness.context().world_size} process(es)")
    to_t = lambda a: torch.from_numpy(a).permute(0, 3, 1, 2).float().div(127.5).sub(1)  # noqa: E731
    val = (to_t(val_faces), upsample(to_t(val_coarse)))
    data = RefinerData(faces, coarse, masks, seed=args.seed + harness.context().rank, truth_share=args.truth_share)
    batches = harness.InfiniteBatches(data, args.batch, seed=args.seed)
    if not run.resume(batches) and args.init:
        load_init(args.init, net, run)
    bf16 = use_bf16(args, ctx.device)
    run.log(f"bf16 autocast {'on' if bf16 else 'off'}")
    run.extra["settings"] = {"loss": f"L1 in the region + 0.1 x L1 outside + {args.adv} x hinge PatchGAN "
                                     f"(from step {args.adv_start})", "batch": args.batch * ctx.world_size,
                             "lr": args.lr, "schedule": "cosine to 1 % over the step or time limit", "bf16": bf16,
                             "generators": list(GENERATORS), "truth_share": args.truth_share}
    G = harness.wrap_ddp(net, ctx)
    D = harness.wrap_ddp(critic, ctx)
    with run:
        while run.keep_going():
            for o in (opt_g, opt_d):
                for g in o.param_groups:
                    g["lr"] = cosine_lr(args.lr, run)
            target, coarse_b, mask = (t.to(ctx.device) for t in next(batches))
            with autocast(ctx.device, bf16):
                pred = G(coarse_b, target, mask).float()
            comp = pred * mask + target * (1 - mask)
            area = mask.sum().clamp(min=1)
            l1_in = ((pred - target).abs() * mask).sum() / (3 * area)
            l1_out = ((pred - target).abs() * (1 - mask)).mean()
            loss = l1_in + 0.1 * l1_out
            adv = run.step >= args.adv_start and args.adv > 0
            scalars = {}
            if adv:
                # The critic sees the images shifted by a random 0-7 px each step: its stride-8 patch grid
                # otherwise stamps a period-8 dot pattern into the refiner's faces (seen in training).
                dy, dx = (int(v) for v in torch.randint(0, 8, (2,)))
                h, w = comp.shape[-2:]
                view = (..., slice(dy, dy + h - 8), slice(dx, dx + w - 8))
                with autocast(ctx.device, bf16):
                    d_fake = D(comp[view], mask[view]).float()
                m8 = F.adaptive_avg_pool2d(mask[view], d_fake.shape[-2:])
                g_adv = -(d_fake * m8).sum() / m8.sum().clamp(min=1e-3)
                loss = loss + args.adv * g_adv
                scalars["g_adv"] = g_adv.item()
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            opt_g.step()
            if adv:
                with autocast(ctx.device, bf16):
                    # Real and fake in one pass: one forward per backward, as DDP needs.
                    both = D(torch.cat([target[view], comp.detach()[view]]), torch.cat([mask[view], mask[view]])).float()
                    d_loss = hinge_d(*both.chunk(2))
                opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                opt_d.step()
                scalars["d"] = d_loss.item()
            run.record(l1_in=l1_in.item(), l1_out=l1_out.item(), **scalars)
            if harness.is_main() and run.step % args.val_every == 0:
                v = validate(net, val, ctx.device, bf16)
                run.extra["val"] = {"step": run.step, "hole_psnr": v["hole_psnr"], "coarse_hole_psnr": v["coarse_hole_psnr"]}
                run.log(f"val step {run.step}: centre-hole PSNR {v['hole_psnr']:.2f} dB "
                        f"(upscaled GAN face {v['coarse_hole_psnr']:.2f})")
                run.save_grid(sample_grid(val, v["out"]), f"step_{run.step:06d}", nrow=4)
    if args.export and harness.is_main():
        export(args, net, run, len(faces))
    harness.barrier()


def load_init(name: str, net: FaceRefiner, run: harness.Run) -> None:
    """A new run continues from a shipped refiner's weights (its critic starts afresh): how a
    later session carries training on when the earlier run folder is not on this machine."""
    from studio.checkpoints import load_model

    init, info = load_model(name, "cpu")
    if info.architecture != "face-refiner" or dict(info.card.get("config") or {}) != net.config:
        raise StudioError(f"--init {name} is a {info.architecture} {info.card.get('config')}; "
                          f"this run needs a face-refiner {net.config}")
    net.load_state_dict({k: v.float() for k, v in init.state_dict().items()})
    earlier = info.card.get("training", {}).get("steps")
    run.extra["init"] = {"name": info.name, "steps": earlier, "cpu_hours": info.card.get("cpu_hours"),
                         "trained_with": info.card.get("trained_with")}
    run.log(f"starting from {info.weights} ({earlier} steps)")


def export(args, net: FaceRefiner, run: harness.Run, n_faces: int) -> None:
    from studio.checkpoints import save_checkpoint

    stem = args.export.with_suffix("") if args.export.suffix == ".safetensors" else args.export
    stem.parent.mkdir(parents=True, exist_ok=True)
    card = {
        "title": "Face refiner 256 (CelebA-HQ)",
        "task": "bring a 64-px GAN face (restoration fill or attribute edit) to photo size in the photo's own detail",
        "method": f"U-Net refiner, residual over the bicubic-upscaled GAN face ({sum(p.numel() for p in net.parameters()) / 1e6:.2f} M "
                  "parameters); trained to rebuild real faces from the shipped generators' reconstructions and the "
                  "face with a region blanked",
        "training_data": f"{n_faces} CelebA-HQ faces at 256 px from {args.data} (last {args.val_holdout} held out)",
        "license": "Trained on CelebA-HQ (non-commercial research only): non-commercial use only.",
        "input": "coarse and known RGB in [-1, 1] at a multiple of 16 px, mask in [0, 1]",
        "hardware": harness.hardware_summary(),
        "wall_time_minutes": round(run.elapsed / 60, 1),
        "cpu_hours": round(run.elapsed / 3600 * (args.threads or torch.get_num_threads()), 2),
        "trained_with": " ".join(["studio train face-refiner"] + [a for a in sys.argv[1:] if a not in ("train", "face-refiner")]),
        "training": {"steps": run.step, **run.extra.get("settings", {})},
    }
    if "init" in run.extra:  # the steps and hours before this run, so the card tells the whole history
        card["initialised_from"] = run.extra["init"]
    if "val" in run.extra:
        card["validation"] = {"set": f"last {args.val_holdout} faces, centre 128x128 hole, GAN face = DCGAN "
                                     "reconstruction", **{k: round(v, 3) for k, v in run.extra["val"].items()}}
    path = save_checkpoint(net.to("cpu"), stem, architecture="face-refiner", config=net.config, card=card)
    print(f"exported {path}", flush=True)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="studio train face-refiner", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="folder of aligned face images (256 px)")
    p.add_argument("--masks", type=Path, default=None, help="folder of irregular hole masks (PNG)")
    p.add_argument("--val-holdout", type=int, default=100, help="the last N faces validate")
    p.add_argument("--limit", type=int, default=0, help="use only the first N training faces (0: all)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--blocks", type=int, default=4)
    p.add_argument("--critic-width", type=int, default=32)
    p.add_argument("--adv", type=float, default=0.02, help="weight of the adversarial term (0: L1 only)")
    p.add_argument("--adv-start", type=int, default=1000, help="steps of L1 alone before the adversarial term")
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--truth-share", type=float, default=0.0,
                   help="share of samples whose coarse face is the true face degraded at 64 px instead of a GAN's")
    p.add_argument("--fit-steps", type=int, default=None,
                   help=f"z-fitting steps of the GAN reconstructions (default DCGAN {DCGAN_STEPS}, IcGAN {ICGAN_STEPS})")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--init", default=None, metavar="CHECKPOINT",
                   help="a new run starts from this face-refiner checkpoint's weights (name or file)")
    p.add_argument("--export", type=Path, help="at the end, write this checkpoint stem (.safetensors + .json)")
    harness.add_run_args(p)
    return p


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    for flag in ("batch", "width", "val_every"):
        if getattr(args, flag) < 1:
            raise StudioError(f"--{flag.replace('_', '-')} must be 1 or more")
    if args.val_holdout < 1:
        raise StudioError("--val-holdout must be 1 or more")
    ctx = harness.setup(args)
    train(args, ctx)


if __name__ == "__main__":
    sys.exit(harness.run_main(main))
