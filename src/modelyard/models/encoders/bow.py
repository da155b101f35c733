"""Bag-of-n-grams encoder: a learned linear map of a text's TF-IDF vector."""

from __future__ import annotations

import torch
from torch import nn

from modelyard.models.encoders.common import mlp


class TextBow(nn.Module):
    """(B, 2, K) int n-gram ids (0 = padding) and their counts -> (B, output_size).

    Each n-gram's weight is sublinear tf x idf, `(1 + log count) * idf[id]`, L2-normalised
    separately over word n-grams (ids below `first_char_id`) and character n-grams, as
    scikit-learn's TfidfVectorizer union makes them; the weighted sum of the n-grams'
    `dim`-vectors (an EmbeddingBag in sum mode, written as a weighted sum so that it exports
    and explains like a token embedding), plus a bias, then dropout and the `hidden` layers.
    """

    def __init__(
        self, idf: torch.Tensor, first_char_id: int, dim: int, hidden: list[int], dropout: float
    ):
        super().__init__()
        self.register_buffer("idf", idf.float().clone())  # (V,)
        self.first_char_id = first_char_id
        self.embedding = nn.Embedding(len(idf), dim, padding_idx=0)
        nn.init.normal_(self.embedding.weight, std=dim**-0.5)
        with torch.no_grad():
            self.embedding.weight[0].zero_()
        self.bias = nn.Parameter(torch.zeros(dim))
        self.dropout = nn.Dropout(dropout)
        self.layers = mlp(dim, hidden, dropout)
        self.output_size = hidden[-1] if hidden else dim

    def token_embedding(self) -> nn.Module:
        """(B, K) n-gram ids -> (B, K, dim)."""
        return self.embedding

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 2, K) ids and counts -> (B, K) tf-idf weights, each kind of n-gram of unit norm."""
        ids, counts = x[:, 0].long(), x[:, 1]  # int32 from the feature; int64 indexes in ONNX
        tf = torch.where(counts > 0, 1 + torch.log(counts.clamp(min=1).float()), 0.0)
        w = tf * self.idf[ids]  # (B, K)
        chars = ids >= self.first_char_id
        norm_chars = (w.square() * chars).sum(1, keepdim=True).sqrt()  # (B, 1)
        norm_words = (w.square() * ~chars).sum(1, keepdim=True).sqrt()
        return w / torch.where(chars, norm_chars, norm_words).clamp(min=1e-12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weights(x)  # (B, K)
        pooled = (self.embedding(x[:, 0].long()) * w.unsqueeze(-1)).sum(1) + self.bias  # (B, dim)
        return self.layers(self.dropout(pooled))
