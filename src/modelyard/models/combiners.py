"""Combiners: many encoder outputs -> one hidden vector per row."""

from __future__ import annotations

import torch
from torch import nn

from modelyard.models.encoders.common import mlp


class Concat(nn.Module):
    """[(B, D_i)] -> (B, sum D_i)."""

    def __init__(self, input_size: int):
        super().__init__()
        self.output_size = input_size

    def forward(self, encoded: list[torch.Tensor]) -> torch.Tensor:
        return _concat(encoded)


class MlpCombiner(nn.Module):
    """[(B, D_i)] -> concat -> dense layers -> (B, hidden[-1])."""

    def __init__(
        self, input_size: int, hidden: list[int], activation: str, dropout: float, batch_norm: bool
    ):
        super().__init__()
        self.layers = mlp(input_size, hidden, dropout, activation, batch_norm)
        self.output_size = hidden[-1] if hidden else input_size

    def forward(self, encoded: list[torch.Tensor]) -> torch.Tensor:
        return self.layers(_concat(encoded))


def _concat(encoded: list[torch.Tensor]) -> torch.Tensor:
    return encoded[0] if len(encoded) == 1 else torch.cat(encoded, dim=1)
