"""Convolutional encoders: 1-D over token embeddings, 2-D over images."""

from __future__ import annotations

import torch
from torch import nn


class TextCnn(nn.Module):
    """(B, L) token ids -> (B, filters * len(kernel_sizes)): convolutions of several widths,
    ReLU, max over time (padding positions excluded)."""

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        filters: int,
        kernel_sizes: list[int],
        dropout: float,
    ):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.convs = nn.ModuleList(
            nn.Conv1d(embedding_dim, filters, k, padding=k // 2) for k in kernel_sizes
        )
        self.dropout = nn.Dropout(dropout)
        self.output_size = filters * len(kernel_sizes)

    def token_embedding(self) -> nn.Module:
        """(B, L) token ids -> (B, L, embedding_dim)."""
        return self.embedding

    def sequence(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, L) token ids -> ((B, L, filters * len(kernel_sizes)) states, (B, L) bool mask)."""
        x = self.embedding(tokens).transpose(1, 2)  # (B, E, L)
        length = tokens.shape[1]
        states = torch.cat([torch.relu(conv(x))[..., :length] for conv in self.convs], dim=1)
        return self.dropout(states.transpose(1, 2)), tokens != 0

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embedding(tokens).transpose(1, 2)  # (B, E, L)
        mask = (tokens != 0).unsqueeze(1)  # (B, 1, L)
        pooled = []
        for conv in self.convs:
            h = torch.relu(conv(x))[..., : tokens.shape[1]]  # (B, F, L)
            pooled.append(h.masked_fill(~mask, 0.0).amax(dim=2))  # ReLU >= 0, so 0 is a safe floor
        return self.dropout(torch.cat(pooled, dim=1))


ACTIVATIONS = {"relu": lambda: nn.ReLU(inplace=True), "tanh": nn.Tanh}


class ImageCnn(nn.Module):
    """(B, C, H, W) float -> (B, output_size): [conv-BN-activation-maxpool] per entry of
    `channels`, then flatten, dropout and a dense layer with the activation (`relu`, or
    `tanh`: better under DP-SGD, whose clipped, noisy steps ReLU networks take worse;
    Papernot et al. 2021, "Tempered Sigmoid Activations for Deep Learning with Differential
    Privacy")."""

    def __init__(
        self,
        in_channels: int,
        height: int,
        width: int,
        channels: list[int],
        kernel_size: int,
        batch_norm: bool,
        output_size: int,
        dropout: float,
        activation: str = "relu",
    ):
        super().__init__()
        act = ACTIVATIONS[activation]
        blocks: list[nn.Module] = []
        for out in channels:
            blocks += [
                nn.Conv2d(
                    in_channels, out, kernel_size, padding=kernel_size // 2, bias=not batch_norm
                )
            ]
            blocks += [nn.BatchNorm2d(out)] if batch_norm else []
            blocks += [act(), nn.MaxPool2d(2)]
            in_channels, height, width = out, max(1, height // 2), max(1, width // 2)
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(in_channels * height * width, output_size),
            act(),
        )
        self.output_size = output_size
        self.map_channels = in_channels
        self.pyramid_channels = list(channels)

    def feature_pyramid(self, images: torch.Tensor) -> list[torch.Tensor]:
        """(B, C, H, W) -> [(B, channels[i], H / 2^i, W / 2^i) for each entry i of `channels`]:
        each block's activations before its max-pool (the finest at the input's resolution)."""
        maps, x = [], images
        for layer in self.blocks:
            if isinstance(layer, nn.MaxPool2d):
                maps.append(x)
            x = layer(x)
        return maps

    def feature_maps(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, channels[-1], H / 2^len(channels), W / 2^len(channels))."""
        return self.blocks(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.feature_maps(images))
