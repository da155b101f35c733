"""Segmentation metrics over every pixel of a split: per-class IoU and Dice from one confusion
matrix (torchmetrics), their means (`miou`, `dice`), and `miou_objects` without background.

A class's IoU is TP / (TP + FP + FN) summed over all the split's pixels (not a mean of
per-image scores); its Dice 2TP / (2TP + FP + FN). A class absent from the split, neither in
the truth nor predicted anywhere, has no score (NaN) and is left out of the means; a class
predicted but absent from the truth scores 0. Ignored pixels (255) count nowhere.
"""

from __future__ import annotations

import math

import torch

from modelyard.tasks.segmentation.feature import IGNORE


def confusion(predicted: torch.Tensor, target: torch.Tensor, classes: int) -> torch.Tensor:
    """(N, H, W) predicted and true classes -> (K, K) counts, rows the truth (torchmetrics'
    multiclass confusion matrix, ignored pixels left out)."""
    from torchmetrics.functional.classification import multiclass_confusion_matrix

    return multiclass_confusion_matrix(
        predicted.reshape(-1).long(),
        target.reshape(-1).long(),
        classes,
        ignore_index=IGNORE,
        validate_args=False,
    )


def per_class(matrix: torch.Tensor) -> tuple[list[float], list[float]]:
    """(K, K) confusion -> (IoU per class, Dice per class), NaN for classes absent from both."""
    counts = matrix.double()
    hits = counts.diagonal()
    truth, found = counts.sum(dim=1), counts.sum(dim=0)
    union = truth + found - hits
    iou = torch.where(union > 0, hits / union.clamp_min(1), torch.nan)
    dice = torch.where(union > 0, 2 * hits / (truth + found).clamp_min(1), torch.nan)
    return iou.tolist(), dice.tolist()


def mask_metrics(matrix: torch.Tensor) -> dict[str, float]:
    """`miou` and `dice` (means over the classes present, background included), `miou_objects`
    (without background, class 0), `pixel_accuracy`."""
    iou, dice = per_class(matrix)
    hits, total = float(matrix.diagonal().sum()), float(matrix.sum())
    return {
        "miou": _mean(iou),
        "dice": _mean(dice),
        "miou_objects": _mean(iou[1:]),
        "pixel_accuracy": hits / total if total else math.nan,
    }


def _mean(values: list[float]) -> float:
    present = [v for v in values if not math.isnan(v)]
    return sum(present) / len(present) if present else math.nan


def predicted_classes(logits: torch.Tensor, rows: int = 64) -> torch.Tensor:
    """(N, K, H, W) scores -> (N, H, W) uint8 best class, `rows` images at a time; (N, H, W)
    uint8 classes (what evaluation keeps, `SegmentationTask.compact`) as they are."""
    if logits.dtype == torch.uint8:
        return logits
    return torch.cat([chunk.argmax(dim=1).to(torch.uint8) for chunk in logits.split(rows)])
