"""Semantic inpainting of a 64x64 face by searching the GAN's latent space.

Yeh et al. (CVPR 2017): find the z whose G(z) best matches the known pixels (contextual loss,
weighted towards pixels next to the hole) while still looking real to D (perceptual loss);
G(z) then supplies the hole. Made fast as in Lahiri et al. (ICIP 2019): start from a good z
(the encoder's guess plus the best of a batch of random draws) so far fewer steps are needed,
and stop as soon as the loss stops improving. A structure loss on image gradients keeps edges
continuous across the hole's border.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F

from studio.jobs import Job, quiet_job


@dataclass
class SearchOptions:
    steps: int = 120  # upper bound; early stopping usually ends sooner
    random_starts: int = 32  # random z evaluated in one batch to pick the start
    use_encoder: bool = True  # add E(x) as a candidate start
    keep: int = 1  # how many of the best starts are optimised (as one batch)
    lr: float = 0.05
    perceptual: float = 0.003  # lambda of log(1 - D(G(z))), as in Yeh et al.
    structure: float = 1.0  # weight of the gradient (structure) loss; 0 disables it
    base_weight: float = 0.05  # weight of known pixels far from the hole (Yeh: 0; +0.8 dB here)
    window: int = 7  # neighbourhood of the importance weighting
    patience: int = 12  # steps without a 0.1 % improvement before stopping
    z_limit: float = 3.0  # keep z inside the prior's box
    preview_every: int = 10

    @classmethod
    def baseline(cls) -> "SearchOptions":
        """The Yeh-style reference: 1500 steps, one random start, no structure loss."""
        return cls(steps=1500, random_starts=1, use_encoder=False, structure=0.0, patience=0, base_weight=0.0)


@dataclass
class SearchResult:
    image: np.ndarray  # HxWx3 float32 in [0,1]: G(z), the whole generated face
    z: np.ndarray
    loss: float
    steps: int
    seconds: float
    history: list[float] = field(default_factory=list)


def importance_weights(hole: torch.Tensor, window: int = 7, base: float = 0.0) -> torch.Tensor:
    """Per-pixel weight of the known pixels: the share of hole pixels in each one's window.

    hole: (H, W) bool. Hole pixels get 0. A known pixel next to a big hole counts most, one
    far from any hole counts `base` (Yeh et al. use 0: only the context near the hole matters).
    """
    h = hole.float()[None, None]
    share = F.avg_pool2d(F.pad(h, [window // 2] * 4, mode="replicate"), window, stride=1)[0, 0]
    return (share + base) * (~hole).float()


def _grads(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


class LatentSearch:
    """Runs the z-search with one loaded DCGAN64 (generator, discriminator, encoder)."""

    def __init__(self, model, device=None):
        self.model = model.eval()
        self.device = device or next(model.parameters()).device
        self.nz = model.nz
        for p in self.model.parameters():
            p.requires_grad_(False)

    def _losses(self, fake, target, w, wx, wy, opts: SearchOptions):
        """Per-sample total loss (B,) and its contextual part."""
        ctx = (w * (fake - target).abs()).flatten(1).sum(1)
        total = ctx
        if opts.structure > 0:
            fx, fy = _grads(fake)
            tx, ty = _grads(target)
            st = (wx * (fx - tx).abs()).flatten(1).sum(1) + (wy * (fy - ty).abs()).flatten(1).sum(1)
            total = total + opts.structure * st
        if opts.perceptual > 0:
            logits = self.model.discriminator(fake)
            total = total + opts.perceptual * (-F.softplus(logits))  # log(1 - sigmoid(logit))
        return total, ctx

    @torch.no_grad()
    def _starts(self, target, w, opts: SearchOptions, gen: torch.Generator) -> torch.Tensor:
        n = max(opts.random_starts, 0)
        cands = [torch.randn(n, self.nz, generator=gen).clamp_(-opts.z_limit, opts.z_limit).to(self.device)]
        if opts.use_encoder and hasattr(self.model, "encoder"):
            # The encoder saw whole faces; show it the hole filled with the context's mean colour.
            cands.append(self.model.encoder(target).clamp(-opts.z_limit, opts.z_limit))
        z = torch.cat(cands)
        if z.shape[0] == 0:
            raise ValueError("no starting points: random_starts=0 and no encoder")
        fake = self.model.generator(z)
        ctx = (w * (fake - target).abs()).flatten(1).sum(1)
        best = torch.argsort(ctx)[: max(1, opts.keep)]
        return z[best].clone()

    def _prepare(self, image: np.ndarray, hole: np.ndarray, trust: np.ndarray | None, opts: SearchOptions):
        """(target, w, wx, wy) of one face, each (1, ...): the image in [-1, 1] with its hole at the
        context's mean colour, and the importance weights of its pixels and of its gradients."""
        dev = self.device
        hole_t = torch.from_numpy(np.asarray(hole, dtype=bool)).to(dev)
        x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float().to(dev)[None] * 2 - 1
        known = (~hole_t).float()
        fill = (x * known).sum((2, 3), keepdim=True) / known.sum().clamp(min=1)
        target = x * known + fill * (1 - known)  # hole -> mean context colour
        w = importance_weights(hole_t, opts.window, opts.base_weight)[None, None]
        if trust is not None:
            w = w * torch.from_numpy(np.asarray(trust, dtype=np.float32)).to(dev)
        # A gradient is trusted only where both of its pixels are known.
        wx = torch.minimum(w[..., :, 1:], w[..., :, :-1]) * (known[:, 1:] * known[:, :-1])
        wy = torch.minimum(w[..., 1:, :], w[..., :-1, :]) * (known[1:, :] * known[:-1, :])
        return target, w, wx, wy

    def refine_group(self, images: list[np.ndarray], holes: list[np.ndarray], z0: np.ndarray,
                     opts: SearchOptions, *, group: float = 0.0, before: np.ndarray | None = None,
                     trust: list[np.ndarray] | None = None, job: Job | None = None) -> SearchResult:
        """Lahiri et al.'s group search: the z of B consecutive frames optimised as one batch from
        z0 (B, nz) (a neighbouring frame's z: far fewer steps than a search from scratch), plus
        `group` x the mean squared z difference between consecutive frames (and from `before`, the
        previous group's last z, held fixed), which keeps the faces from flickering.
        Returns image (B, 64, 64, 3) and z (B, nz) of the last step; loss and history are the batch's."""
        job = job or quiet_job()
        t0 = time.perf_counter()
        parts = [self._prepare(im, h, None if trust is None else trust[i], opts)
                 for i, (im, h) in enumerate(zip(images, holes))]
        target, w, wx, wy = (torch.cat(p) for p in zip(*parts))
        z = torch.from_numpy(np.asarray(z0, np.float32)).to(self.device).clone().requires_grad_(True)
        prev = None if before is None else torch.from_numpy(np.asarray(before, np.float32)).to(self.device)[None]
        optim = torch.optim.Adam([z], lr=opts.lr)
        best_loss, stale, history, step = math.inf, 0, [], 0
        for step in range(1, opts.steps + 1):
            optim.zero_grad(set_to_none=True)
            total, _ = self._losses(self.model.generator(z), target, w, wx, wy, opts)
            loss = total.sum()
            if group > 0:
                chain = z if prev is None else torch.cat([prev, z])
                if chain.shape[0] > 1:
                    loss = loss + group * len(images) * (chain[1:] - chain[:-1]).pow(2).mean()
            history.append(float(loss.detach()))
            loss.backward()
            optim.step()
            with torch.no_grad():
                z.clamp_(-opts.z_limit, opts.z_limit)
            job.progress(step / opts.steps, SEARCHING)
            if history[-1] < best_loss - 1e-3 * abs(best_loss):
                best_loss, stale = history[-1], 0
            else:
                stale += 1
            if opts.patience and stale >= opts.patience:
                break
        with torch.no_grad():
            out = self.model.generator(z)
        return SearchResult(np.stack([_to_image(o) for o in out]), z.detach().cpu().numpy(), history[-1], step,
                            time.perf_counter() - t0, history)

    def search(self, image: np.ndarray, hole: np.ndarray, opts: SearchOptions | None = None,
               job: Job | None = None, seed: int | None = None, trust: np.ndarray | None = None) -> SearchResult:
        """image: 64x64x3 float [0,1]; hole: 64x64 bool (True = unknown).

        trust: optional 64x64 weight in [0,1] of the known pixels (0 for padding that was
        made up outside the photo, so the search does not try to match it).
        """
        return self.search_many(image, hole, 1, opts, job, seed, trust)[0]

    def search_many(self, image: np.ndarray, hole: np.ndarray, n: int, opts: SearchOptions | None = None,
                    job: Job | None = None, seed: int | None = None,
                    trust: np.ndarray | None = None) -> list[SearchResult]:
        """n different fills, best first: the n best starting points (of at least 4n random
        draws) optimised as one batch, each keeping its own best z. For n = 1 this is the
        plain search (its `keep` best starts compete; the best one wins)."""
        opts = opts or SearchOptions()
        if n > 1:
            opts = replace(opts, keep=n, random_starts=max(opts.random_starts, 4 * n))
        job = job or quiet_job()
        t0 = time.perf_counter()
        gen = torch.Generator().manual_seed(seed if seed is not None else torch.seed() % (2**63))
        target, w, wx, wy = self._prepare(image, hole, trust, opts)

        job.progress(0.0, "choosing a starting face")
        z = self._starts(target, w, opts, gen).requires_grad_(True)
        optim = torch.optim.Adam([z], lr=opts.lr)
        best_loss = torch.full((z.shape[0],), math.inf)
        best_z = z.detach().clone()
        stale, history, step = 0, [], 0
        for step in range(1, opts.steps + 1):
            optim.zero_grad(set_to_none=True)
            fake = self.model.generator(z)
            total, _ = self._losses(fake, target, w, wx, wy, opts)
            now = total.detach().float().cpu()
            i = int(now.argmin())
            history.append(float(now[i]))
            # Remember each sample's z that produced its best loss (before the step moves it).
            better = now < best_loss - 1e-3 * best_loss.abs().nan_to_num(posinf=0)
            best_loss = torch.where(better, now, best_loss)
            best_z[better.to(best_z.device)] = z.detach()[better.to(z.device)]
            stale = 0 if bool(better.any()) else stale + 1
            total.sum().backward()
            optim.step()
            with torch.no_grad():
                z.clamp_(-opts.z_limit, opts.z_limit)
            preview = _to_image(fake.detach()[i]) if opts.preview_every and step % opts.preview_every == 0 else None
            job.progress(step / opts.steps, SEARCHING, preview)
            if opts.patience and stale >= opts.patience:
                break
        order = torch.argsort(best_loss)[: max(1, n)]
        with torch.no_grad():
            out = self.model.generator(best_z[order.to(best_z.device)])
        job.progress(1.0, f"search done in {step} steps")
        secs = time.perf_counter() - t0
        return [SearchResult(_to_image(o), best_z[k].cpu().numpy(), float(best_loss[k]), step, secs, history)
                for o, k in zip(out, order.tolist())]


SEARCHING = "searching for the face that fits the photo"  # what a person reads while the search runs


def _to_image(t: torch.Tensor) -> np.ndarray:
    return ((t.clamp(-1, 1) + 1) / 2).permute(1, 2, 0).cpu().numpy().astype(np.float32)
