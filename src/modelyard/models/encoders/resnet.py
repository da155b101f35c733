"""Residual CNN for images (basic blocks as in He et al. 2016, sized for small inputs)."""

from __future__ import annotations

import torch
from torch import nn


class BasicBlock(nn.Module):
    """(B, C_in, H, W) -> (B, C_out, H/stride, W/stride): two 3x3 convs plus a shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ImageResnet(nn.Module):
    """(B, C, H, W) float -> (B, channels[-1]). Stage i has blocks[i] blocks of channels[i];
    every stage after the first halves the resolution. Global average pooling at the end."""

    def __init__(self, in_channels: int, channels: list[int], blocks: list[int], dropout: float):
        super().__init__()
        if len(channels) != len(blocks):
            raise ValueError("channels and blocks must have the same length")
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, channels[0], 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels[0]),
            nn.ReLU(inplace=True),
        ]
        previous = channels[0]
        self._stage_ends = []  # index in `body` of each stage's last layer
        for stage, (width, count) in enumerate(zip(channels, blocks, strict=True)):
            for i in range(count):
                layers.append(BasicBlock(previous, width, stride=2 if stage > 0 and i == 0 else 1))
                previous = width
            self._stage_ends.append(len(layers) - 1)
        self.body = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.output_size = self.map_channels = previous
        self.pyramid_channels = list(channels)

    def feature_pyramid(self, images: torch.Tensor) -> list[torch.Tensor]:
        """(B, C, H, W) -> [(B, channels[i], H / 2^i, W / 2^i) for each stage i]: the output
        of every stage's last block."""
        maps, x = [], images
        for index, layer in enumerate(self.body):
            x = layer(x)
            if index in self._stage_ends:
                maps.append(x)
        return maps

    def feature_maps(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, channels[-1], H / 2^(stages - 1), W / 2^(stages - 1))."""
        return self.body(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.feature_maps(images).mean(dim=(2, 3)))
