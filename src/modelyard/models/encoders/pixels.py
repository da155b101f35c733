"""Turns stored images into normalised floats (augmentation is the batch source's:
`data/augment.py`, training batches only)."""

from __future__ import annotations

import torch
from torch import nn


class Pixels(nn.Module):
    """(B, C, H, W) uint8 (or float32 0..255, as augmented) -> (B, C, H, W) float32,
    standardised with the training mean/std (0..1 scale). The same in training and eval mode."""

    def __init__(self, mean: list[float], std: list[float]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return (images.float() / 255.0 - self.mean) / self.std
