"""A community super-resolution model loaded by spandrel, as the Upscaler runs its own nets.

Not registered under an architecture name: it cannot be built from a config, only wrapped
around what studio.community loaded. No spandrel import here: the descriptor comes built.
"""

from __future__ import annotations

import torch
from torch import nn


class SpandrelSR(nn.Module):
    """forward(RGB N x 3 x H x W in [0, 1]) -> N x 3 x (scale*H) x (scale*W) in [0, 1].

    `descriptor` is spandrel's ImageModelDescriptor of an SR model: its network is this
    module's child (so .to(), .eval() and memory formats reach it), and its call pads an input
    to the network's size requirements and crops the result back. Under an autocast dtype the
    network does not support (SwinIR and float16), it runs in float32 instead.
    """

    def __init__(self, descriptor):
        super().__init__()
        self.net = descriptor.model
        self.descriptor = descriptor
        self.scale = int(descriptor.scale)
        self.arch = descriptor.architecture.name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kind = x.device.type
        if torch.is_autocast_enabled(kind):
            dtype = torch.get_autocast_dtype(kind)
            fits = {torch.float16: self.descriptor.supports_half,
                    torch.bfloat16: self.descriptor.supports_bfloat16}.get(dtype, True)
            if not fits:
                with torch.autocast(kind, enabled=False):
                    return self._each(x.float())
        return self._each(x)

    def _each(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] == 1:
            return self.descriptor(x)
        return torch.cat([self.descriptor(x[i:i + 1]) for i in range(x.shape[0])])  # its call takes one image
