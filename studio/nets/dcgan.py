"""DCGAN for 64x64 faces (Radford et al. 2016), plus an image -> z encoder.

One checkpoint holds all three parts, because the face-inpainting z-search needs them
together: the generator G(z) paints the face, the discriminator's logit is the
"looks real" (perceptual) term, and the encoder E(x) gives the search a starting z.

The latent prior is N(0, 1) in NZ dimensions truncated to +-Z_LIMIT: training samples
from it (`sample_z`) and a z-search should clamp to the same box. E's output is left
unbounded (a tanh would squash the tails that N(0, 1) does produce); callers clamp it.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from studio.nets.registry import register

NZ = 100
Z_LIMIT = 3.0
D_NORMS = ("batch", "spectral")


def sample_z(n: int, nz: int = NZ, *, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """Draw n latent vectors from the prior: N(0, 1) truncated to +-Z_LIMIT."""
    z = torch.randn(n, nz, generator=generator, device=device)
    return z.clamp_(-Z_LIMIT, Z_LIMIT)


def _init_weights(m: nn.Module) -> None:
    # The DCGAN paper's initialisation; it matters for how fast training gets going.
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        w = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
        nn.init.normal_(w, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d) and m.affine:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """z (N, nz) -> image (N, 3, 64, 64) in [-1, 1]: 4x4 -> 8 -> 16 -> 32 -> 64."""

    def __init__(self, nz: int = NZ, ngf: int = 64):
        super().__init__()

        def up(cin: int, cout: int, stride: int, pad: int) -> list[nn.Module]:
            return [nn.ConvTranspose2d(cin, cout, 4, stride, pad, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]

        self.net = nn.Sequential(
            *up(nz, ngf * 8, 1, 0),
            *up(ngf * 8, ngf * 4, 2, 1),
            *up(ngf * 4, ngf * 2, 2, 1),
            *up(ngf * 2, ngf, 2, 1),
            nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.reshape(z.shape[0], -1, 1, 1))


def _trunk(width: int, norm: str) -> nn.Sequential:
    """64x64 image -> (width*8, 4, 4) features; shared shape of D and E."""

    def down(cin: int, cout: int, first: bool) -> list[nn.Module]:
        conv = nn.Conv2d(cin, cout, 4, 2, 1, bias=first or norm == "spectral")
        if norm == "spectral":
            return [spectral_norm(conv), nn.LeakyReLU(0.2, True)]
        if first:  # DCGAN: no normalisation on the input layer
            return [conv, nn.LeakyReLU(0.2, True)]
        return [conv, nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, True)]

    return nn.Sequential(
        *down(3, width, True),
        *down(width, width * 2, False),
        *down(width * 2, width * 4, False),
        *down(width * 4, width * 8, False),
    )


class Discriminator(nn.Module):
    """image (N, 3, 64, 64) -> real/fake logit (N,)."""

    def __init__(self, ndf: int = 64, norm: str = "batch"):
        super().__init__()
        head = nn.Conv2d(ndf * 8, 1, 4, 1, 0)
        self.net = nn.Sequential(*_trunk(ndf, norm), spectral_norm(head) if norm == "spectral" else head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()


class Encoder(nn.Module):
    """image (N, 3, 64, 64) -> z estimate (N, nz), unbounded (clamp to the prior's box)."""

    def __init__(self, nz: int = NZ, nef: int = 64):
        super().__init__()
        self.net = nn.Sequential(*_trunk(nef, "batch"), nn.Conv2d(nef * 8, nz, 4, 1, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1)


class DCGAN64(nn.Module):
    """Container so one checkpoint holds G, D and E. forward(z) is the generator."""

    def __init__(self, nz: int = NZ, ngf: int = 64, ndf: int = 64, nef: int = 64, d_norm: str = "batch"):
        super().__init__()
        if d_norm not in D_NORMS:
            raise ValueError(f"d_norm must be one of {D_NORMS}, not {d_norm!r}")
        for name, v in (("nz", nz), ("ngf", ngf), ("ndf", ndf), ("nef", nef)):
            if int(v) != v or v < 1:
                raise ValueError(f"{name} must be a positive integer, not {v!r}")
        self.config = dict(nz=nz, ngf=ngf, ndf=ndf, nef=nef, d_norm=d_norm)
        self.nz = nz
        self.generator = Generator(nz, ngf)
        self.discriminator = Discriminator(ndf, d_norm)
        self.encoder = Encoder(nz, nef)
        self.apply(_init_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)


@register("dcgan64")
def build_dcgan64(nz: int = NZ, ngf: int = 64, ndf: int = 64, nef: int = 64, d_norm: str = "batch") -> DCGAN64:
    return DCGAN64(nz, ngf, ndf, nef, d_norm)
