"""The denoiser of `model.type: diffusion`: a small U-Net with a time and a class embedding.

Use when: images up to about 64x64 (Fashion-MNIST, icons); the cost grows with the number of
pixels times the channels squared. Alternatives: `vae` (one forward pass per sample, blurrier),
`gan` (one pass, sharp, but harder to train).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def time_features(t: torch.Tensor, dim: int) -> torch.Tensor:
    """(B,) steps in [0, 1] -> (B, dim) sinusoidal features (as in "Attention is all you need")."""
    half = dim // 2
    scales = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / max(half - 1, 1))
    angles = 1000.0 * t.float()[:, None] * scales[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(8, channels), channels)


class ResBlock(nn.Module):
    """Two 3x3 convolutions with the embedding added in between; (B, Ci, H, W) -> (B, Co, H, W)."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int):
        super().__init__()
        self.norm1, self.conv1 = _norm(c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2, self.conv2 = _norm(c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(F.silu(emb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class UNet(nn.Module):
    """Predicts the noise in a noisy image.

    `channels`: one entry per resolution (each after the first halves height and width);
    `classes`: the number of classes of a conditional model (0: unconditional); class index
    `classes` is the "no class" token of classifier-free guidance.
    """

    def __init__(self, image_channels: int, channels: tuple[int, ...], classes: int):
        super().__init__()
        emb_dim = 4 * channels[0]
        self.emb_dim, self.classes = emb_dim, classes
        self.time = nn.Sequential(
            nn.Linear(channels[0], emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim)
        )
        self.label = nn.Embedding(classes + 1, emb_dim) if classes else None
        self.stem = nn.Conv2d(image_channels, channels[0], 3, padding=1)
        widths = [channels[0], *channels]
        self.down = nn.ModuleList(
            ResBlock(widths[i], widths[i + 1], emb_dim) for i in range(len(channels))
        )
        self.pool = nn.ModuleList(nn.Conv2d(c, c, 3, stride=2, padding=1) for c in channels[:-1])
        self.mid = nn.ModuleList(ResBlock(channels[-1], channels[-1], emb_dim) for _ in range(2))
        ups = [channels[-1], *reversed(channels)]
        self.up = nn.ModuleList(
            ResBlock(ups[i] + ups[i + 1], ups[i + 1], emb_dim) for i in range(len(channels))
        )
        self.out = nn.Sequential(
            _norm(channels[0]), nn.SiLU(), nn.Conv2d(channels[0], image_channels, 3, padding=1)
        )

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, label: torch.Tensor | None = None
    ) -> torch.Tensor:
        """x (B, C, H, W) noisy images, t (B,) in [0, 1], label (B,) int64 (`classes` = none)
        -> (B, C, H, W) predicted noise."""
        emb = self.time(time_features(t, self.time[0].in_features))
        if self.label is not None:
            if label is None:
                label = torch.full((x.shape[0],), self.classes, device=x.device)
            emb = emb + self.label(label)
        h, skips = self.stem(x), []
        for i, block in enumerate(self.down):
            h = block(h, emb)
            skips.append(h)
            if i < len(self.pool):
                h = self.pool[i](h)
        for block in self.mid:
            h = block(h, emb)
        for block, skip in zip(self.up, reversed(skips), strict=True):
            if h.shape[-2:] != skip.shape[-2:]:
                h = F.interpolate(h, size=skip.shape[-2:], mode="nearest")
            h = block(torch.cat([h, skip], dim=1), emb)
        return self.out(h)
