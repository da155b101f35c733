"""Output heads and their losses."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class Head(nn.Module):
    """(B, H) -> (B, size) logits or values; `squeeze` turns a single column into (B,)."""

    def __init__(self, input_size: int, size: int):
        super().__init__()
        self.linear = nn.Linear(input_size, size)
        self.squeeze = size == 1

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        out = self.linear(hidden)
        return out.squeeze(-1) if self.squeeze else out


def make_loss(name: str, label_smoothing: float = 0.0) -> Loss:
    """The loss for one output: (prediction, target) -> scalar mean over the batch."""
    if name == "cross_entropy":
        return lambda logits, target: F.cross_entropy(
            logits.float(), target, label_smoothing=label_smoothing
        )
    if name == "binary_cross_entropy":
        return lambda logits, target: F.binary_cross_entropy_with_logits(logits.float(), target)
    if name == "mae":
        return lambda pred, target: F.l1_loss(pred.float(), target)
    if name == "huber":
        return lambda pred, target: F.huber_loss(pred.float(), target)
    return lambda pred, target: F.mse_loss(pred.float(), target)


def skip_missing(loss: Loss) -> Loss:
    """`loss` over the rows that have a label: with several outputs a row may lack one
    output's label (NaN for numbers and binary, -100 for categories). A batch without any
    gives 0, not NaN."""

    def masked(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        known = ~torch.isnan(target) if target.is_floating_point() else target >= 0
        if bool(known.all()):
            return loss(prediction, target)
        if not bool(known.any()):
            return prediction.float().sum() * 0.0
        return loss(prediction[known], target[known])

    return masked
