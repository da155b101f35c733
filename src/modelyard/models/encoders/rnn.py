"""Recurrent encoder (LSTM or GRU) over token embeddings."""

from __future__ import annotations

import torch
from torch import nn

from modelyard.models.encoders.common import masked_pool


class TextRnn(nn.Module):
    """(B, L) token ids -> (B, hidden * directions). Padding is packed away, so it never
    reaches the recurrence; `pooling` takes the last state, or the mean/max over tokens."""

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        cell: str,
        hidden: int,
        layers: int,
        bidirectional: bool,
        pooling: str,
        dropout: float,
    ):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        rnn_class = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn_class(
            embedding_dim,
            hidden,
            num_layers=layers,
            bidirectional=bidirectional,
            batch_first=True,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.output_size = hidden * (2 if bidirectional else 1)

    def token_embedding(self) -> nn.Module:
        """(B, L) token ids -> (B, L, embedding_dim)."""
        return self.embedding

    def sequence(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, L) token ids -> ((B, L, hidden * directions) states, (B, L) bool mask)."""
        mask = tokens != 0  # (B, L)
        output, _ = self._run(tokens, mask)
        padded, _ = nn.utils.rnn.pad_packed_sequence(
            output, batch_first=True, total_length=tokens.shape[1]
        )
        return self.dropout(padded), mask

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        mask = tokens != 0  # (B, L)
        output, state = self._run(tokens, mask)
        if self.pooling == "last":
            h = state[0] if isinstance(state, tuple) else state  # (layers * dirs, B, H)
            dirs = 2 if self.rnn.bidirectional else 1
            pooled = torch.cat(list(h[-dirs:]), dim=1)
        else:
            padded, _ = nn.utils.rnn.pad_packed_sequence(
                output, batch_first=True, total_length=tokens.shape[1]
            )
            pooled = masked_pool(padded, mask, self.pooling)
        return self.dropout(pooled)

    def _run(self, tokens: torch.Tensor, mask: torch.Tensor):
        """The recurrence over the packed (padding-free) embeddings: (packed output, final state)."""
        lengths = mask.sum(dim=1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embedding(tokens), lengths, batch_first=True, enforce_sorted=False
        )
        return self.rnn(packed)
