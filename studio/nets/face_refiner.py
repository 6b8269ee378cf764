"""Face refiner: the 64-px GAN face brought to photo size in the photo's own detail.

Inputs, all the same size (256 px in training; any multiple of 16 works, the net is fully
convolutional): `coarse`, the generator's face resized up; `known`, the photo's face with the
region to change blanked; `mask`, that region (1 = change). The output follows the
generator's shapes inside the region and the photo's colour, texture and identity around it;
the engine keeps the photo's own pixels outside the region.

A U-Net whose finest convolutions run at half size (a stride-2 4x4 convolution in, a
PixelShuffle x2 out): full-resolution convolutions would cost most of the compute for
little gain. The output is a residual over `coarse`, zero at initialisation, so an untrained
refiner returns the generator's face: the engine's behaviour before the refiner existed.
Dilated residual blocks at 1/8 and 1/16 size give the receptive field a 128-px hole needs.
"""

from __future__ import annotations

import torch
from torch import nn

from studio.nets.registry import register


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


class _Res(nn.Module):
    def __init__(self, ch: int, dilation: int = 1):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, padding=dilation, dilation=dilation), _act(),
                                  nn.Conv2d(ch, ch, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class _Down(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__(nn.Conv2d(cin, cout, 4, stride=2, padding=1), _act(), nn.Conv2d(cout, cout, 3, padding=1), _act())


class _Up(nn.Module):
    """Upsample x2 (nearest + conv), then fuse with the skip of the same size."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.up = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 3, padding=1), _act())
        self.fuse = nn.Sequential(nn.Conv2d(2 * cout, cout, 3, padding=1), _act())

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([self.up(x), skip], 1))


class FaceRefiner(nn.Module):
    IN_CHANNELS = 7  # coarse RGB, known RGB, mask

    def __init__(self, width: int = 32, blocks: int = 4):
        super().__init__()
        if int(width) != width or width < 4 or int(blocks) != blocks or blocks < 0:
            raise ValueError("width must be an integer >= 4 and blocks an integer >= 0")
        self.config = dict(width=width, blocks=blocks)
        c1, c2, c3, c4 = width, 2 * width, 4 * width, 4 * width
        self.d1 = _Down(self.IN_CHANNELS, c1)  # 1/2
        self.d2 = _Down(c1, c2)  # 1/4
        self.d3 = _Down(c2, c3)  # 1/8
        self.d4 = _Down(c3, c4)  # 1/16
        dil = [1, 2, 4, 1]
        self.mid3 = nn.Sequential(*[_Res(c3, dil[i % 4]) for i in range(blocks)])
        self.mid4 = nn.Sequential(*[_Res(c4, dil[i % 4]) for i in range(blocks)])
        self.u4 = _Up(c4, c3)
        self.u3 = _Up(c3, c2)
        self.u2 = _Up(c2, c1)
        self.out = nn.Conv2d(c1, 3 * 4, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, coarse: torch.Tensor, known: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """coarse, known: (N, 3, H, W) in [-1, 1]; mask: (N, 1, H, W) in [0, 1]. H, W multiples of 16."""
        x = torch.cat([coarse, known * (1 - mask), mask * 2 - 1], 1)
        s1 = self.d1(x)
        s2 = self.d2(s1)
        s3 = self.mid3(self.d3(s2))
        s4 = self.mid4(self.d4(s3))
        y = self.u2(self.u3(self.u4(s4, s3), s2), s1)
        return coarse + self.shuffle(self.out(y)).to(coarse.dtype)


class PatchCritic(nn.Module):
    """PatchGAN discriminator (Isola et al. 2017) with spectral norm: one real/fake logit per
    ~22-px patch, at 1/8 of the input's size; used only in training."""

    def __init__(self, width: int = 32):
        super().__init__()
        sn = nn.utils.spectral_norm
        self.body = nn.Sequential(
            sn(nn.Conv2d(4, width, 4, stride=2, padding=1)), _act(),
            sn(nn.Conv2d(width, 2 * width, 4, stride=2, padding=1)), _act(),
            sn(nn.Conv2d(2 * width, 4 * width, 4, stride=2, padding=1)), _act(),
            sn(nn.Conv2d(4 * width, 4 * width, 3, padding=1)), _act(),
            sn(nn.Conv2d(4 * width, 1, 3, padding=1)),
        )

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([image, mask * 2 - 1], 1))


@register("face-refiner")
def build_face_refiner(width: int = 32, blocks: int = 4) -> FaceRefiner:
    return FaceRefiner(width, blocks)
