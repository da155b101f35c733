"""Transformer encoder built on `scaled_dot_product_attention` (pre-norm blocks, learned positions)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from modelyard.models.encoders.common import masked_pool


class SelfAttention(nn.Module):
    """(B, L, D) -> (B, L, D) multi-head self-attention; `mask` (B, L) True where tokens are real."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, length, dim = x.shape
        q, k, v = (
            self.qkv(x).view(b, length, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        )  # each (B, H, L, Dh)
        attn_mask = mask.view(b, 1, 1, length)  # keys that may be attended to
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out(y.transpose(1, 2).reshape(b, length, dim))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + ff(norm(x)). (B, L, D) -> (B, L, D)."""

    def __init__(self, dim: int, heads: int, ff_multiplier: int, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attention = SelfAttention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(
            nn.Linear(dim, ff_multiplier * dim), nn.GELU(), nn.Linear(ff_multiplier * dim, dim)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.dropout(self.attention(self.norm1(x), mask))
        return x + self.dropout(self.ff(self.norm2(x)))


class TextTransformer(nn.Module):
    """(B, L) token ids (0 = padding, 2 = [CLS]) -> (B, dim), pooled by mean, max or a [CLS] token."""

    def __init__(
        self,
        vocab_size: int,
        max_length: int,
        dim: int,
        layers: int,
        heads: int,
        ff_multiplier: int,
        pooling: str,
        dropout: float,
    ):
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.positions = nn.Embedding(max_length + 1, dim)
        self.blocks = nn.ModuleList(
            Block(dim, heads, ff_multiplier, dropout) for _ in range(layers)
        )
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        self.pooling = pooling
        self.output_size = dim

    def token_embedding(self) -> nn.Module:
        """(B, L) token ids -> (B, L, dim), before positions are added."""
        return self.tokens

    def sequence(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, L) token ids -> ((B, L, dim) states, (B, L) bool mask, True at real tokens)."""
        mask = tokens != 0  # (B, L)
        # (B, L), not (L,): every row its own lookup, so that DP-SGD's per-row gradients
        # (trainer.privacy) see the batch dimension in the embedding's input
        positions = torch.arange(tokens.shape[1], device=tokens.device).expand(tokens.shape[0], -1)
        x = self.dropout(self.tokens(tokens) + self.positions(positions))  # (B, L, D)
        for block in self.blocks:
            x = block(x, mask)
        return self.norm(x), mask

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.pooling == "cls":
            cls = torch.full_like(tokens[:, :1], 2)
            tokens = torch.cat([cls, tokens], dim=1)
        states, mask = self.sequence(tokens)
        return states[:, 0] if self.pooling == "cls" else masked_pool(states, mask, self.pooling)
