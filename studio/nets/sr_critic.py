"""The sharp upscaler's discriminator: a conditional PatchGAN (Isola et al. 2017) with spectral
norm, used only in training.

It sees the 4x image beside the bicubic upscale of its input, so it judges whether the detail
fits that image rather than whether the image is plausible at all, and it returns its hidden
feature maps too: the generator matches them against the original's (feature matching, as
pix2pixHD), a perceptual loss learned on this data instead of a random-weight VGG.
"""

from __future__ import annotations

import torch
from torch import nn


class SRCritic(nn.Module):
    """(image, bicubic) in [0, 1], each (N, 3, H, W) -> (logits at 1/8 size, [features])."""

    def __init__(self, width: int = 48):
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        chans = [6, width, 2 * width, 4 * width, 4 * width]
        self.stages = nn.ModuleList(
            nn.Sequential(sn(nn.Conv2d(a, b, 4, stride=2, padding=1) if i < 3 else nn.Conv2d(a, b, 3, padding=1)),
                          nn.LeakyReLU(0.2))
            for i, (a, b) in enumerate(zip(chans, chans[1:])))
        self.head = sn(nn.Conv2d(chans[-1], 1, 3, padding=1))

    def forward(self, image: torch.Tensor, bicubic: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = torch.cat([image, bicubic], 1) * 2 - 1
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return self.head(x), feats
