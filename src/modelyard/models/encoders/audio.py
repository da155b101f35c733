"""Encoders over (B, 1, n_mels, frames) log-mel spectrograms (SpecAugment is the batch
source's: `data/augment.py`, training batches only).

Every encoder has a pooled `forward(x) -> (B, output_size)` (for classification, e.g. keyword
spotting) and `frames(x) -> (B, T', frame_size)`, one state per (subsampled) time step (for CTC
speech to text): each is a `PooledEncoder` and a `FrameStatesEncoder` (common.py).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from modelyard.models.encoders.cnn import ImageCnn
from modelyard.models.encoders.resnet import ImageResnet
from modelyard.models.encoders.transformer import Block


class Spectrogram(nn.Module):
    """The float16 spectrograms stored -> float32 in front of an audio encoder: `forward` and
    `frames` pass through it (an exported model casts as well)."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body
        self.output_size = body.output_size
        self.frame_size = body.frame_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, M, T) -> (B, output_size)."""
        return self.body(x.float())

    def frames(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, M, T) -> (B, T', frame_size)."""
        return self.body.frames(x.float())


class AudioCnn(nn.Module):
    """The image cnn over the spectrogram as a 1-channel image. `forward`: (B, output_size);
    `frames`: the conv stack's features per time step, (B, T / 2^stages, channels * M')."""

    def __init__(
        self,
        n_mels: int,
        frames: int,
        channels: list[int],
        kernel_size: int,
        batch_norm: bool,
        output_size: int,
        dropout: float,
        activation: str = "relu",
    ):
        super().__init__()
        self.cnn = ImageCnn(
            1, n_mels, frames, channels, kernel_size, batch_norm, output_size, dropout, activation
        )
        self.output_size = output_size
        self.frame_size = channels[-1] * max(1, n_mels >> len(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cnn(x.float())

    def drop_head(self) -> None:
        """For frame-level use only (CTC): the dense layer after the conv stack would never get
        a gradient, which DDP refuses and the optimizer would carry for nothing."""
        self.cnn.head = nn.Identity()

    def frames(self, x: torch.Tensor) -> torch.Tensor:
        features = self.cnn.feature_maps(x.float())  # (B, C, M', T')
        return features.flatten(1, 2).transpose(1, 2)  # (B, T', C * M')


class AudioResnet(nn.Module):
    """The image resnet over the spectrogram. `forward`: (B, channels[-1]) global average;
    `frames`: averaged over frequency, (B, T / 2^(stages - 1), channels[-1])."""

    def __init__(self, channels: list[int], blocks: list[int], dropout: float):
        super().__init__()
        self.resnet = ImageResnet(1, channels, blocks, dropout)
        self.output_size = self.frame_size = self.resnet.output_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resnet(x.float())

    def frames(self, x: torch.Tensor) -> torch.Tensor:
        features = self.resnet.feature_maps(x.float()).mean(dim=2)  # (B, C, T')
        return self.resnet.dropout(features.transpose(1, 2))


class Subsample(nn.Module):
    """(B, 1, M, T) -> (B, T / factor, dim): 1-D convolutions over time with the mel bands as
    channels; each stride-2 convolution halves the frames (factor 1: one stride-1 convolution)."""

    def __init__(self, n_mels: int, dim: int, factor: int):
        super().__init__()
        layers: list[nn.Module] = []
        channels = n_mels
        for _ in range(max(1, int(math.log2(factor)))):
            stride = 2 if factor > 1 else 1
            layers += [nn.Conv1d(channels, dim, 3, stride=stride, padding=1), nn.GELU()]
            channels = dim
        self.convs = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs(x.float().squeeze(1)).transpose(1, 2)


class AudioRnn(nn.Module):
    """Strided conv front end, then an LSTM or GRU over the frames. `frames`: (B, T', hidden *
    directions); `forward` pools them (last state, mean or max)."""

    def __init__(
        self,
        n_mels: int,
        cell: str,
        hidden: int,
        layers: int,
        bidirectional: bool,
        subsample: int,
        pooling: str,
        dropout: float,
    ):
        super().__init__()
        self.front = Subsample(n_mels, hidden, subsample)
        rnn_class = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn_class(
            hidden,
            hidden,
            num_layers=layers,
            bidirectional=bidirectional,
            batch_first=True,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.output_size = self.frame_size = hidden * (2 if bidirectional else 1)

    def frames(self, x: torch.Tensor) -> torch.Tensor:
        states, _ = self.rnn(self.front(x))  # (B, T', H * dirs)
        return self.dropout(states)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states, last = self.rnn(self.front(x))
        if self.pooling == "last":
            h = last[0] if isinstance(last, tuple) else last  # (layers * dirs, B, H)
            pooled = torch.cat(list(h[-(2 if self.rnn.bidirectional else 1) :]), dim=1)
        elif self.pooling == "max":
            pooled = states.amax(dim=1)
        else:
            pooled = states.mean(dim=1)
        return self.dropout(pooled)


class AudioTransformer(nn.Module):
    """Strided conv front end, sinusoidal positions, then pre-norm transformer blocks.
    `frames`: (B, T', dim); `forward` pools them by mean or max."""

    def __init__(
        self,
        n_mels: int,
        dim: int,
        layers: int,
        heads: int,
        ff_multiplier: int,
        subsample: int,
        pooling: str,
        dropout: float,
    ):
        super().__init__()
        self.front = Subsample(n_mels, dim, subsample)
        self.blocks = nn.ModuleList(
            Block(dim, heads, ff_multiplier, dropout) for _ in range(layers)
        )
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        self.pooling = pooling
        self.output_size = self.frame_size = dim

    def frames(self, x: torch.Tensor) -> torch.Tensor:
        h = self.front(x)  # (B, T', D)
        h = self.dropout(h + _sinusoids(h.shape[1], h.shape[2], h.device))
        mask = torch.ones(h.shape[:2], dtype=torch.bool, device=h.device)
        for block in self.blocks:
            h = block(h, mask)
        return self.norm(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states = self.frames(x)
        return states.amax(dim=1) if self.pooling == "max" else states.mean(dim=1)


def _sinusoids(length: int, dim: int, device) -> torch.Tensor:
    """(length, dim) fixed sine/cosine positions (Vaswani et al. 2017); no length limit."""
    position = torch.arange(length, device=device, dtype=torch.float32).unsqueeze(1)
    rates = torch.exp(
        torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim)
    )
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(position * rates)
    table[:, 1::2] = torch.cos(position * rates[: dim // 2])
    return table
