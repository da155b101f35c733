"""Sequence tagging (NER, part of speech): a tag per word from a text encoder's per-token states."""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from modelyard.data.features.tags import IGNORE


class TaggingModel(nn.Module):
    """batch {text input: (B, L) ids, or (B, 2, L) ids and mask} -> {tags output: (B, L, T) logits}.

    The encoder's `sequence` gives (B, L, H) states; each tags output has dropout and a
    Linear to its T tags. Logits at padding and continuation pieces are computed but never
    used: their targets are -100. `input_names`/`encoders` have the meaning they have in
    `YardModel` (the API exports pretrained backbones through them).
    """

    def __init__(
        self,
        input_name: str,
        encoder: nn.Module,
        output_names: list[str],
        tag_counts: list[int],
        dropouts: list[float],
    ):
        super().__init__()
        self.input_names = [input_name]
        self.encoders = nn.ModuleList([encoder])
        self.output_names = output_names
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Dropout(p), nn.Linear(encoder.output_size, count))
            for count, p in zip(tag_counts, dropouts, strict=True)
        )

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        states, _ = self.encoders[0].sequence(batch[self.input_names[0]])  # (B, L, H)
        return {
            name: head(states) for name, head in zip(self.output_names, self.heads, strict=True)
        }

    def pack(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Table tensors -> model inputs: the text input's ids."""
        return {self.input_names[0]: tensors[self.input_names[0]]}


def tagging_loss(label_smoothing: float):
    """(B, L, T) logits, (B, L) targets -> mean cross-entropy over the labelled positions
    (targets -100 are ignored, and so are tags unseen in training, index T; a batch without
    any gives 0, not NaN)."""

    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        target = target.masked_fill(target >= logits.shape[-1], IGNORE)  # tags unseen in training
        total = F.cross_entropy(
            logits.flatten(0, 1).float(),
            target.flatten(),
            ignore_index=IGNORE,
            label_smoothing=label_smoothing,
            reduction="sum",
        )
        return total / (target != IGNORE).sum().clamp(min=1)

    return loss


def tag_scores(
    feature, logits: torch.Tensor, target: torch.Tensor, raw: pd.Series, details: bool = True
) -> tuple[dict, dict[str, Any]]:
    """Metrics (`accuracy`, and for BIO tags `f1_entity`, `precision_entity`, `recall_entity`)
    and report details (word-level confusion matrix) of one tags output, against the raw tags
    of the data (`raw`: the N values of the tags column): a tag unseen in training, or a word
    cut off by max_length, counts like any other word. `details=False`: no report details."""
    from modelyard.metrics.tagging import tagging_details, tagging_metrics

    true, predicted = feature.sequences(logits, target, raw)
    found = tagging_metrics(true, predicted, entities=feature.bio)
    return found, tagging_details(true, predicted, feature.vocab) if details else {}
