"""Box operations in torch: IoU and class-aware non-maximum suppression, batched.

Boxes are (..., 4) float pixel edges x1, y1, x2, y2 (x2, y2 exclusive), so a box's width is
x2 - x1 and its area (x2 - x1) * (y2 - y1).
"""

from __future__ import annotations

import torch


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) -> (...): the area, 0 for a degenerate box."""
    return (boxes[..., 2] - boxes[..., 0]).clamp_min(0) * (boxes[..., 3] - boxes[..., 1]).clamp_min(
        0
    )


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(..., N, 4) and (..., M, 4) -> (..., N, M) intersection over union (0 where both are
    empty)."""
    top_left = torch.maximum(a[..., :, None, :2], b[..., None, :, :2])
    bottom_right = torch.minimum(a[..., :, None, 2:], b[..., None, :, 2:])
    inter = (bottom_right - top_left).clamp_min(0).prod(-1)
    union = box_area(a)[..., :, None] + box_area(b)[..., None, :] - inter
    return inter / union.clamp_min(1e-9)


def batched_nms(
    boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """Class-aware NMS over a batch of candidate sets.

    boxes (B, N, 4), scores (B, N), labels (B, N) long (-1: not a candidate) -> (B, N) bool,
    True where a box is kept: in score order, a box is dropped when a kept box of the same
    image and class overlaps it by IoU above `iou_threshold`. Vectorised over the batch; the
    loop runs over the N candidates (N is small: the top-k of a heatmap)."""
    order = scores.argsort(dim=1, descending=True)
    boxes = boxes.gather(1, order.unsqueeze(-1).expand(-1, -1, 4))
    labels = labels.gather(1, order)
    n = boxes.shape[1]
    same = labels[:, :, None] == labels[:, None, :]
    overlap = (box_iou(boxes, boxes) > iou_threshold) & same  # (B, N, N)
    keep = labels >= 0
    for i in range(n):  # a kept box i suppresses the later boxes it overlaps
        later = torch.arange(n, device=boxes.device) > i
        suppress = overlap[:, i] & later & keep[:, i : i + 1]
        keep = keep & ~suppress
    kept = torch.zeros_like(keep)
    return kept.scatter(1, order, keep)
