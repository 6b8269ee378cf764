"""A tiny network used by tests and the training smoke run (not shipped as a tool)."""

import torch
from torch import nn

from studio.nets.registry import register


class TinyNet(nn.Module):
    """Two convolutions: enough to exercise checkpoints, DDP and resumable training."""

    def __init__(self, channels: int = 3, width: int = 8):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@register("tiny")
def build_tiny(channels: int = 3, width: int = 8) -> TinyNet:
    return TinyNet(channels, width)
