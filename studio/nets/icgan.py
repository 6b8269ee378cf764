"""IcGAN for 64x64 faces (Perarnau et al. 2016): conditional DCGAN plus two encoders.

G(z, y) paints a face with attributes y (one value per attribute, +1 present, -1 absent;
values in between or beyond interpolate/exaggerate). E_z(x) recovers z, E_y(x) reads the
attributes (logits), so an edit is G(E_z(x), y') with y' = E_y(x) changed. D(x, y) returns a
real/fake logit with a projection term (Miyato & Koyama 2018) and an auxiliary attribute
classifier (AC-GAN, Odena et al. 2017): both make G follow y after a short training.

`directions` holds, per attribute, the mean E_z code of training faces with it minus the mean
code of faces without it (filled at export): the latent-arithmetic alternative to changing y.
The judge (AttributeJudge) is a separate classifier of another architecture, used only to
score edits in the benchmark, so an edit is not judged by the network that made it.
"""

from __future__ import annotations

import torch
from torch import nn

from studio.nets.dcgan import NZ, Z_LIMIT, Encoder, Generator, _init_weights, _trunk, sample_z
from studio.nets.registry import register

__all__ = ["NZ", "Z_LIMIT", "sample_z", "IcGAN64", "AttributeJudge"]


class CondGenerator(nn.Module):
    """(z (N, nz), y (N, ny)) -> image (N, 3, 64, 64) in [-1, 1]; y joins z at the input,
    where the IcGAN paper found conditioning works best for G."""

    def __init__(self, nz: int, ny: int, ngf: int):
        super().__init__()
        self.body = Generator(nz + ny, ngf)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([z, y.to(z.dtype)], 1))


class ConditionalBatchNorm(nn.Module):
    """Batch norm whose scale and shift are linear in y (de Vries et al. 2017; BigGAN's G):
    the attributes reach every layer instead of fading after the first."""

    def __init__(self, ch: int, ny: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(ch, affine=False)
        self.gamma = nn.Linear(ny, ch)
        self.beta = nn.Linear(ny, ch)
        for lin in (self.gamma, self.beta):  # starts as plain batch norm
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        g, b = (lin(y.to(x.dtype))[:, :, None, None] for lin in (self.gamma, self.beta))
        return self.bn(x) * (1 + g) + b


class CBNGenerator(nn.Module):
    """DCGAN generator with y at the input and in every batch norm; same shapes as CondGenerator."""

    def __init__(self, nz: int, ny: int, ngf: int):
        super().__init__()
        chans = [nz + ny, ngf * 8, ngf * 4, ngf * 2, ngf]
        self.convs = nn.ModuleList(
            nn.ConvTranspose2d(cin, cout, 4, 1 if i == 0 else 2, 0 if i == 0 else 1, bias=False)
            for i, (cin, cout) in enumerate(zip(chans, chans[1:])))
        self.norms = nn.ModuleList(ConditionalBatchNorm(c, ny) for c in chans[1:])
        self.to_rgb = nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = torch.cat([z, y.to(z.dtype)], 1)[:, :, None, None]
        for conv, norm in zip(self.convs, self.norms):
            h = torch.relu(norm(conv(h), y))
        return torch.tanh(self.to_rgb(h))


G_CONDITIONING = {"input": CondGenerator, "cbn": CBNGenerator}


class CondDiscriminator(nn.Module):
    """(x, y) -> (real/fake logit (N,), attribute logits (N, ny))."""

    def __init__(self, ndf: int, ny: int):
        super().__init__()
        self.trunk = _trunk(ndf, "batch")
        self.head = nn.Conv2d(ndf * 8, 1, 4, 1, 0)
        self.embed = nn.Linear(ny, ndf * 8, bias=False)  # projection: <embed(y), features>
        self.classify = nn.Conv2d(ndf * 8, ny, 4, 1, 0)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        proj = (self.embed(y.to(h.dtype)) * h.mean((2, 3))).sum(1)
        return self.head(h).flatten() + proj, self.classify(h).flatten(1)


class IcGAN64(nn.Module):
    """One checkpoint: generator, discriminator, encoder_z, encoder_y, directions.

    forward(z, y) is the generator. encoder_y returns logits (> 0: present).
    """

    def __init__(self, nz: int = NZ, ny: int = 18, ngf: int = 64, ndf: int = 64, nef: int = 64, ney: int = 32,
                 g_cond: str = "input"):
        super().__init__()
        for name, v in (("nz", nz), ("ny", ny), ("ngf", ngf), ("ndf", ndf), ("nef", nef), ("ney", ney)):
            if int(v) != v or v < 1:
                raise ValueError(f"{name} must be a positive integer, not {v!r}")
        if g_cond not in G_CONDITIONING:
            raise ValueError(f"g_cond must be one of {', '.join(G_CONDITIONING)}, not {g_cond!r}")
        self.config = dict(nz=nz, ny=ny, ngf=ngf, ndf=ndf, nef=nef, ney=ney)
        if g_cond != "input":  # left out by default: checkpoints from before the option still match
            self.config["g_cond"] = g_cond
        self.nz, self.ny = nz, ny
        self.generator = G_CONDITIONING[g_cond](nz, ny, ngf)
        self.discriminator = CondDiscriminator(ndf, ny)
        self.encoder_z = Encoder(nz, nef)
        self.encoder_y = Encoder(ny, ney)  # same trunk, ny logits instead of z
        self.register_buffer("directions", torch.zeros(ny, nz))
        self.apply(_init_weights)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.generator(z, y)


class AttributeJudge(nn.Module):
    """image (N, 3, 64, 64) -> attribute logits (N, ny): VGG-style 3x3 blocks and global
    average pooling, deliberately unlike E_y's strided DCGAN trunk."""

    def __init__(self, ny: int = 18, width: int = 24):
        super().__init__()
        if int(width) != width or width < 1 or int(ny) != ny or ny < 1:
            raise ValueError(f"ny and width must be positive integers, not {ny!r}, {width!r}")
        self.config = dict(ny=ny, width=width)
        layers: list[nn.Module] = []
        cin = 3
        for i in range(4):  # 64 -> 32 -> 16 -> 8 -> 4
            cout = width * 2**i
            for c in (cin, cout):
                layers += [nn.Conv2d(c, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]
            layers.append(nn.MaxPool2d(2))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.classify = nn.Linear(cin, ny)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x).mean((2, 3)))


@register("icgan64")
def build_icgan64(nz: int = NZ, ny: int = 18, ngf: int = 64, ndf: int = 64, nef: int = 64, ney: int = 32,
                  g_cond: str = "input") -> IcGAN64:
    return IcGAN64(nz, ny, ngf, ndf, nef, ney, g_cond)


@register("attr-judge64")
def build_judge64(ny: int = 18, width: int = 24) -> AttributeJudge:
    return AttributeJudge(ny, width)
