"""Small building blocks shared by encoders, combiners and heads."""

from __future__ import annotations

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
