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


def make_loss(
    name: str, label_smoothing: float = 0.0, class_weights: list[float] | None = None
) -> Loss:
    """The loss for one output: (prediction, target) -> scalar mean over the batch; with
    `class_weights` (C,) (C = 2 for binary), the mean of each row's loss times its class's
    weight (Keras' class_weight; unlike cross_entropy's `weight`, not divided by the batch's
    sum of weights, so that processes sharing a batch average to the whole batch's loss)."""
    if name == "cross_entropy" and class_weights is not None:
        return _weighted_classes(torch.tensor(class_weights), label_smoothing)
    if name == "cross_entropy":
        return lambda logits, target: F.cross_entropy(
            logits.float(), target, label_smoothing=label_smoothing
        )
    if name == "binary_cross_entropy":
        if class_weights is not None:
            return _weighted_binary(*class_weights)
        return lambda logits, target: F.binary_cross_entropy_with_logits(logits.float(), target)
    if name == "mae":
        return lambda pred, target: F.l1_loss(pred.float(), target)
    if name == "huber":
        return lambda pred, target: F.huber_loss(pred.float(), target)
    return lambda pred, target: F.mse_loss(pred.float(), target)


def _weighted_classes(weights: torch.Tensor, label_smoothing: float) -> Loss:
    """Cross entropy of (B, C) logits and (B,) class indices, each row's times the weight
    of its class (`weights` (C,)), averaged over the B rows."""

    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        each = F.cross_entropy(
            logits.float(),
            target,
            weight=weights.to(logits.device),
            label_smoothing=label_smoothing,
            reduction="none",
        )
        return each.mean()

    return loss


def _weighted_binary(negative: float, positive: float) -> Loss:
    """Binary cross entropy of (B,) logits and (B,) 0/1 targets, each row's times the
    weight of its class, averaged over the B rows."""

    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        weight = negative + (positive - negative) * target
        each = F.binary_cross_entropy_with_logits(logits.float(), target, reduction="none")
        return (weight * each).mean()

    return loss


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
