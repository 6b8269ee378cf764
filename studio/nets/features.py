"""An optional VGG19 content loss for the sharp model (training only, never shipped).

`vgg19_features(path)` reads ImageNet VGG19 weights that the user supplies as a
safetensors file with torchvision's key names (`features.N.weight` / `.bias`; any other
keys are ignored); names and shapes are checked before anything is loaded. Nothing is
ever downloaded.

Without such a file the sharp model's trainer relies on its critic's own features
(feature matching); a random-weight VGG, tried first, left a cross-hatch in fur.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from studio.errors import CheckpointError

# torchvision's VGG19 "E" configuration; "M" = 2x2 max pool.
VGG19 = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Indices (in `features`) of the ReLUs whose outputs the loss compares.
RELU_5_4 = 35  # the paper's "VGG54"


class FeatureNet(nn.Module):
    """Image in [0, 1] -> list of feature maps at `taps` (indices into the VGG trunk)."""

    def __init__(self, taps: tuple[int, ...]):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for v in VGG19:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=False)]
                cin = v
        self.taps = tuple(sorted(taps))
        self.features = nn.Sequential(*layers[: self.taps[-1] + 1])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - self.mean) / self.std
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.taps:
                out.append(x)
        return out


def vgg19_features(path: Path, taps: tuple[int, ...] = (RELU_5_4,)) -> FeatureNet:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if path.suffix.lower() != ".safetensors":
        raise CheckpointError(f"{path}: give VGG19 weights as a .safetensors file (pickles are never loaded)")
    net = FeatureNet(taps)
    want = {f"features.{k}": v for k, v in net.features.state_dict().items()}
    try:
        got = load_file(str(path))
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"cannot read VGG19 weights {path}: {e}") from None
    missing = [k for k in want if k not in got]
    wrong = [k for k in want if k in got and tuple(got[k].shape) != tuple(want[k].shape)]
    if missing or wrong:
        raise CheckpointError(f"{path} is not torchvision-layout VGG19: missing {missing[:3]}, wrong shapes {wrong[:3]}")
    net.features.load_state_dict({k[len("features."):]: got[k].float() for k in want})
    return net
