"""Small building blocks shared by encoders, combiners and heads, and the protocols that say
what an encoder gives.

Every encoder is a `PooledEncoder`: one vector per row, which the combiner concatenates. Some
give more, and the models that need it (tagging, seq2seq, speech to text) or tools (explain)
ask for it through these protocols, not by probing attributes:

    PooledEncoder        forward(x) -> (B, output_size)
    TokenEmbedder        token_embedding(): the (B, L) ids -> (B, L, E) embedding module
    TokenStatesEncoder   sequence(x) -> ((B, L, output_size) states, (B, L) bool mask)
    FrameStatesEncoder   frames(x) -> (B, T', frame_size), one state per (subsampled) frame
    FeatureMapEncoder    feature_maps(x) -> (B, map_channels, H', W') spatial feature maps
    FeaturePyramidEncoder feature_pyramid(x) -> [(B, pyramid_channels[i], H / 2^i, W / 2^i)]
                         one map per stage, finest first (U-Net skips, detection necks)

They are `runtime_checkable`: `isinstance(encoder, TokenStatesEncoder)` tells whether an encoder
keeps a state per token (it checks that the members exist, not their shapes).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


def mlp(
    input_size: int,
    hidden: list[int],
    dropout: float = 0.0,
    activation: str = "relu",
    batch_norm: bool = False,
) -> nn.Sequential:
    """Linear -> [BatchNorm] -> activation -> dropout, once per entry of `hidden`."""
    layers: list[nn.Module] = []
    for size in hidden:
        layers.append(nn.Linear(input_size, size))
        if batch_norm:
            layers.append(nn.BatchNorm1d(size))
        layers.append(ACTIVATIONS[activation]())
        if dropout:
            layers.append(nn.Dropout(dropout))
        input_size = size
    return nn.Sequential(*layers)


def masked_pool(x: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """Pool (B, L, D) over positions where `mask` (B, L) is True -> (B, D). `how`: mean or max."""
    mask = mask.unsqueeze(-1)
    if how == "max":
        return x.masked_fill(~mask, torch.finfo(x.dtype).min).amax(dim=1)
    return (x * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)


@runtime_checkable
class PooledEncoder(Protocol):
    """One input's rows -> one vector per row: (B, ...) -> (B, output_size). Every encoder."""

    output_size: int

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class TokenEmbedder(Protocol):
    """A text encoder that starts by embedding token ids (every text encoder)."""

    def token_embedding(self) -> nn.Module:
        """The module mapping (B, L) token ids to (B, L, E) vectors: the place to attribute
        per token (explain), or to share with a decoder."""
        ...


@runtime_checkable
class TokenStatesEncoder(Protocol):
    """A text encoder that keeps a state per token (not `mlp`, which pools the embeddings)."""

    output_size: int

    def sequence(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, L) ids, or pretrained (B, 2, L) ids and attention mask -> ((B, L, output_size)
        states, (B, L) bool mask, True at real tokens)."""
        ...


@runtime_checkable
class FrameStatesEncoder(Protocol):
    """An audio encoder that keeps a state per (subsampled) spectrogram frame (CTC reads them)."""

    frame_size: int

    def frames(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, n_mels, T) log-mel spectrograms -> (B, T', frame_size), T' <= T."""
        ...


@runtime_checkable
class FeatureMapEncoder(Protocol):
    """An image encoder whose convolutions keep a spatial map before pooling (dense tasks,
    detection heads, saliency read it)."""

    map_channels: int

    def feature_maps(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) normalised float images -> (B, map_channels, H', W') feature maps."""
        ...


@runtime_checkable
class FeaturePyramidEncoder(Protocol):
    """An image encoder that gives the map of every stage, finest first: stage i has
    `pyramid_channels[i]` channels at stride 2^i (stage 0 at the input's resolution). Dense
    decoders (U-Net) and detection necks read them."""

    pyramid_channels: list[int]

    def feature_pyramid(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, C, H, W) normalised float images -> [(B, pyramid_channels[i], ceil(H / 2^i),
        ceil(W / 2^i)) for each stage i]; sizes are floor-halved per stage."""
        ...
