"""Image folders as torch datasets for training, decoded once into memory.

The files and the train/validation split come from studio/data/images.py (name order, the
last `holdout` validate). 28,000 64x64 faces are 344 MB as uint8, so decoding once beats
decoding every epoch on two cores.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from studio.data.images import list_images, split_holdout
from studio.errors import StudioError


def load_images(files: list[Path], size: int) -> torch.Tensor:
    """Decode to one uint8 tensor (N, 3, size, size), RGB; other sizes are resized."""
    out = np.empty((len(files), size, size, 3), dtype=np.uint8)
    for i, p in enumerate(files):
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise StudioError(f"cannot read image {p}")
        if img.shape[:2] != (size, size):
            img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        out[i] = img[:, :, ::-1]  # BGR -> RGB
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


class ImageTensorDataset(Dataset):
    """uint8 images in memory, served as float in [-1, 1], optionally flipped left-right."""

    def __init__(self, images: torch.Tensor, *, flip: bool = True):
        self.images = images
        self.flip = flip

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.get_batch([i])[0]

    def get_batch(self, indices) -> torch.Tensor:
        x = self.images[torch.as_tensor(indices, dtype=torch.long)].float().div_(127.5).sub_(1.0)
        if self.flip:
            # Faces are near-symmetric: a mirrored face is a new, equally valid sample.
            mask = torch.rand(x.shape[0]) < 0.5
            x[mask] = x[mask].flip(-1)
        return x


def image_folder(folder: Path, *, size: int = 64, holdout: int = 0, flip: bool = True):
    """(train dataset, validation uint8 tensor) from a folder of images."""
    train_files, val_files = split_holdout(list_images(folder), holdout)
    train = ImageTensorDataset(load_images(train_files, size), flip=flip)
    val = load_images(val_files, size) if val_files else torch.empty(0, 3, size, size, dtype=torch.uint8)
    return train, val
