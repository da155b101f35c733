"""Encoders for single-column tabular values."""

from __future__ import annotations

import torch
from torch import nn


class Passthrough(nn.Module):
    """(B, K) float -> (B, K): K numeric columns, already normalised by preprocessing."""

    def __init__(self, columns: int = 1):
        super().__init__()
        self.output_size = columns

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class PeriodicNumber(nn.Module):
    """(B,) normalised number -> (B, dim): [sin(2 pi c x), cos(2 pi c x)] for `frequencies`
    learned c ~ N(0, sigma), then Linear(2 * frequencies, dim) and ReLU (PLR embeddings of
    Gorishniy et al., "On Embeddings for Numerical Features in Tabular Deep Learning", 2022;
    written here: no maintained library provides them for plain PyTorch)."""

    def __init__(self, frequencies: int = 16, dim: int = 16, sigma: float = 1.0):
        super().__init__()
        self.coefficients = nn.Parameter(torch.randn(frequencies) * sigma)
        self.linear = nn.Linear(2 * frequencies, dim)
        self.output_size = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        angles = 2 * torch.pi * x.unsqueeze(-1) * self.coefficients  # (B, frequencies)
        return torch.relu(self.linear(torch.cat([torch.sin(angles), torch.cos(angles)], -1)))


class CategoryEmbedding(nn.Module):
    """(B,) int64 category index -> (B, dim) learned vector; index 0 is the unknown category."""

    def __init__(self, categories: int, dim: int, dropout: float = 0.0):
        super().__init__()
        self.embedding = nn.Embedding(categories, dim)
        self.dropout = nn.Dropout(dropout)
        self.output_size = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.embedding(x))


class OneHot(nn.Module):
    """(B,) int64 category index -> (B, categories) one-hot float."""

    def __init__(self, categories: int):
        super().__init__()
        self.categories = categories
        self.output_size = categories

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(x, self.categories).float()
