"""Turns stored uint8 images into normalised floats, with training-time augmentation."""

from __future__ import annotations

import torch
from torch import nn


class Pixels(nn.Module):
    """(B, C, H, W) uint8 -> (B, C, H, W) float, standardised with the training mean/std.

    In training mode, optionally random-crops (after zero padding by `crop_padding` pixels)
    and flips horizontally; each image gets its own random offsets.
    """

    def __init__(
        self, mean: list[float], std: list[float], crop_padding: int = 0, flip: bool = False
    ):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)
        self.crop_padding = crop_padding
        self.flip = flip

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = (images.float() / 255.0 - self.mean) / self.std
        if self.training and self.crop_padding:
            x = _random_crop(x, self.crop_padding)
        if self.training and self.flip:
            flip = torch.rand(x.shape[0], device=x.device) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
        return x


def _random_crop(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Pad each side by `pad` and cut back to (H, W) at a random offset per image."""
    b, _, h, w = x.shape
    padded = nn.functional.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (b,), device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (b,), device=x.device)
    rows = (dy.view(b, 1) + torch.arange(h, device=x.device)).view(b, 1, h, 1)
    cols = (dx.view(b, 1) + torch.arange(w, device=x.device)).view(b, 1, 1, w)
    batch = torch.arange(b, device=x.device).view(b, 1, 1, 1)
    channel = torch.arange(x.shape[1], device=x.device).view(1, -1, 1, 1)
    return padded[batch, channel, rows, cols]
