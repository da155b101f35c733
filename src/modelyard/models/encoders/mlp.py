"""MLP encoders: mean token embedding (text) or flattened pixels (images) through dense layers."""

from __future__ import annotations

import torch
from torch import nn

from modelyard.models.encoders.common import masked_pool, mlp


class TextMlp(nn.Module):
    """(B, L) token ids (0 = padding) -> (B, hidden[-1]). Bag of words: word order is ignored."""

    def __init__(self, vocab_size: int, embedding_dim: int, hidden: list[int], dropout: float):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.layers = mlp(embedding_dim, hidden, dropout)
        self.output_size = hidden[-1] if hidden else embedding_dim

    def token_embedding(self) -> nn.Module:
        """(B, L) token ids -> (B, L, embedding_dim)."""
        return self.embedding

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.layers(masked_pool(self.embedding(tokens), tokens != 0, "mean"))


class ImageMlp(nn.Module):
    """(B, C, H, W) float -> (B, hidden[-1]) from the flattened pixels."""

    def __init__(self, channels: int, height: int, width: int, hidden: list[int], dropout: float):
        super().__init__()
        self.layers = mlp(channels * height * width, hidden, dropout)
        self.output_size = hidden[-1] if hidden else channels * height * width

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images.flatten(1))
