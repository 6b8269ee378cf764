"""Photo inpainting generator and its discriminator (after Demir & Unal 2018, PGGAN).

Generator: a residual encoder-decoder. Full resolution -> 1/4 by two strided convs, residual
blocks with dilated convs in the middle (a receptive field of ~270 px for the defaults), and
back up (sub-pixel convolutions, or nearest-neighbour resizes each followed by a 3x3 conv) with
additive skips. Departures from the paper, each to learn more in a short CPU run:
- the hole is first filled by a parameter-free push-pull (pyramid) interpolation and the net
  predicts a residual over it, zero at init: an untrained net already gives a smooth fill,
  so training only has to add structure and texture;
- no normalisation layers (batch statistics differ between 128-px training crops and
  whole-photo inference), LeakyReLU, residual branches scaled down at init.
Input: RGB in [0, 1] (hole pixels are ignored, any value) and the mask (1 = hole);
output the full RGB image, not clamped; callers composite it over the known pixels.

Discriminator: PGGAN's shared trunk with two heads, a global one (one score per image)
and a PatchGAN one (a score per ~80 px patch), spectral norm throughout.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from studio.nets.registry import register

DOWN = 4  # the generator's total stride: inputs are padded to a multiple of it
# "shuffle": 1x1 conv + PixelShuffle (cheap, but leaves a period-4 checkerboard that adversarial
# training amplifies); "resize": nearest x2 + 3x3 conv (no checkerboard, ~20 % slower overall).
UPSAMPLERS = ("shuffle", "resize")
# How far a partly known pyramid cell trusts its own average over the coarser level: w ** TRUST
# for a known fraction w. The first rule (2w, capped at 1) switched abruptly between neighbouring
# cells and left a faceted mosaic in large holes; w ** 0.3 blends them (+0.04-0.05 dB hole PSNR
# with the net trained on the old rule, on the benchmark's masks and on generated strokes alike).
TRUST = 0.3


def push_pull_fill(rgb: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Fill hole pixels by pyramid interpolation of the known ones; known pixels stay exact.

    Push: average colour and known-fraction down a pyramid until every cell sees something.
    Pull: from coarse to fine, each level blends its own average (weighted by how much of the
    cell is known, see TRUST) with the bilinear upsampled coarser level.
    """
    known = 1.0 - hole
    levels = [(rgb * known, known)]
    while True:
        p, w = levels[-1]
        if min(p.shape[-2:]) <= 1 or bool((w > 0).all()):
            break
        levels.append((F.avg_pool2d(p, 2, ceil_mode=True), F.avg_pool2d(w, 2, ceil_mode=True)))
    p, w = levels[-1]
    filled = p / w.clamp_min(1e-6)
    for p, w in reversed(levels[:-1]):
        up = F.interpolate(filled, size=p.shape[-2:], mode="bilinear", align_corners=False)
        alpha = w.clamp(min=0.0) ** TRUST
        filled = alpha * (p / w.clamp_min(1e-6)) + (1 - alpha) * up
    return filled


def _conv(cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=dilation * (k // 2), dilation=dilation)


class DilatedBlock(nn.Module):
    def __init__(self, ch: int, dilation: int):
        super().__init__()
        self.conv1 = _conv(ch, ch, dilation=dilation)
        self.conv2 = _conv(ch, ch)
        self.act = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(x)))


class InpaintNet(nn.Module):
    """(rgb (N,3,H,W) in [0,1], hole (N,1,H,W) 1 = fill) -> rgb (N,3,H,W); any H, W."""

    def __init__(self, width: int = 24, dilations: tuple[int, ...] | list[int] = (2, 4, 8, 16),
                 upsample: str = "shuffle"):
        super().__init__()
        if upsample not in UPSAMPLERS:
            raise ValueError(f"upsample must be one of {', '.join(UPSAMPLERS)}, not {upsample!r}")
        self.upsample = upsample
        c = width
        self.act = nn.LeakyReLU(0.2, inplace=True)
        self.head = _conv(4, c, 5)
        self.down1 = _conv(c, 2 * c, stride=2)
        self.down2 = _conv(2 * c, 4 * c, stride=2)
        self.middle = nn.Sequential(*[DilatedBlock(4 * c, d) for d in dilations])
        if upsample == "shuffle":  # 1x1 conv to 4x the channels, then PixelShuffle
            self.up1, self.up2 = _conv(4 * c, 8 * c, 1), _conv(2 * c, 4 * c, 1)
        else:  # nearest x2, then a 3x3 conv
            self.up1, self.up2 = _conv(4 * c, 2 * c), _conv(2 * c, c)
        self.fuse1 = _conv(2 * c, 2 * c)
        self.fuse2 = _conv(c, c)
        self.tail = _conv(c, 3)
        self._init()

    def _init(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=0.2, nonlinearity="leaky_relu")
                nn.init.zeros_(m.bias)
        for b in self.middle:
            b.conv2.weight.data.mul_(0.1)  # stacked residual blocks start near identity
        nn.init.zeros_(self.tail.weight)  # the untrained net returns the push-pull fill

    def forward(self, rgb: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        h, w = rgb.shape[-2:]
        ph, pw = -h % DOWN, -w % DOWN
        # The fill and the base stay float32 under autocast; only the convs run in bf16.
        with torch.autocast(rgb.device.type, enabled=False):
            hole = hole.float()
            base = push_pull_fill(rgb.float(), hole)
            x = torch.cat([base * 2 - 1, hole], 1)
            if ph or pw:
                x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        s1 = self.act(self.head(x))
        s2 = self.act(self.down1(s1))
        f = self.middle(self.act(self.down2(s2)))
        f = self.act(self._up(self.up1, f))
        f = self.act(self.fuse1(f + s2))
        f = self.act(self._up(self.up2, f))
        f = self.act(self.fuse2(f + s1))
        return base + self.tail(f)[..., :h, :w].float()

    def _up(self, conv: nn.Conv2d, f: torch.Tensor) -> torch.Tensor:
        if self.upsample == "shuffle":
            return F.pixel_shuffle(conv(f), 2)
        return conv(F.interpolate(f, scale_factor=2, mode="nearest"))


class Discriminator(nn.Module):
    """(rgb in [0,1], hole) -> (global score (N,), patch scores (N, 1, H/16, W/16)).

    Inputs of at least 64 px: the global branch divides by 64 (and on a 1x1 map oneDNN's bf16
    weight gradient of a strided conv was seen to come out NaN, torch 2.13 on CPU).
    """

    def __init__(self, width: int = 32):
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        c = width
        chans = [4, c, 2 * c, 4 * c, 4 * c]
        trunk: list[nn.Module] = []
        for cin, cout in zip(chans, chans[1:]):  # four 4x4 stride-2 convs, as pix2pix's PatchGAN
            trunk += [sn(nn.Conv2d(cin, cout, 4, stride=2, padding=1)), nn.LeakyReLU(0.2, inplace=True)]
        self.trunk = nn.Sequential(*trunk)
        self.patch = sn(nn.Conv2d(4 * c, 1, 3, padding=1))  # one score per ~80 px patch
        self.global_convs = nn.Sequential(
            sn(nn.Conv2d(4 * c, 4 * c, 4, stride=2, padding=1)), nn.LeakyReLU(0.2, inplace=True),
            sn(nn.Conv2d(4 * c, 4 * c, 4, stride=2, padding=1)), nn.LeakyReLU(0.2, inplace=True),
        )
        self.global_head = sn(nn.Linear(4 * c, 1))

    def forward(self, rgb: torch.Tensor, hole: torch.Tensor, features: bool = False):
        """With features=True, also the trunk's four activation maps (for feature matching)."""
        f = torch.cat([rgb * 2 - 1, hole.to(rgb.dtype)], 1)
        maps = []
        for layer in self.trunk:
            f = layer(f)
            if isinstance(layer, nn.LeakyReLU):
                maps.append(f)
        g = self.global_convs(f).mean(dim=(2, 3))  # mean pooling: any input size
        scores = (self.global_head(g).squeeze(1), self.patch(f))
        return (*scores, maps) if features else scores


@register("photo-inpaint")
def build_inpaint_net(width: int = 24, dilations: tuple[int, ...] | list[int] = (2, 4, 8, 16),
                      upsample: str = "shuffle") -> InpaintNet:
    return InpaintNet(width, tuple(dilations), upsample)
