"""CenterNet training targets and loss (Zhou et al. 2019, "Objects as Points"), and decoding
the network's output into boxes.

Each object is the peak of a Gaussian on its class's heatmap at the cell holding its box
centre; that cell also regresses the centre's offset within it and the box's log width and
height (in cells). The Gaussian's spread follows the box (TTFNet's elliptical Gaussian, sigma =
`spread` * side / 6). All of it vectorised over the batch: boxes (B, M, 4) pixel edges with
labels (B, M), -1 for padding (data/geometry.py's layout).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from modelyard.detection.boxes import batched_nms

SPREAD = 0.54  # TTFNet's alpha: the Gaussian's sigma is SPREAD * side / 6


@dataclass(frozen=True)
class Centres:
    """Where each box's targets live on a (h, w) grid of `stride`-pixel cells: valid (B, M)
    bool, cell (B, M) long flat index y * w + x, offset (B, M, 2) and log size (B, M, 2)."""

    valid: torch.Tensor
    cell: torch.Tensor
    offset: torch.Tensor
    log_size: torch.Tensor
    gauss_x: torch.Tensor  # (B, M, w)
    gauss_y: torch.Tensor  # (B, M, h)


def centres(boxes: torch.Tensor, labels: torch.Tensor, stride: int, h: int, w: int) -> Centres:
    """The cells, offsets, sizes and Gaussian profiles of the boxes (B, M, 4) on the grid."""
    boxes = boxes.float() / stride
    size = (boxes[..., 2:] - boxes[..., :2]).clamp_min(1e-3)  # (B, M, 2) in cells
    centre = (boxes[..., :2] + boxes[..., 2:]) / 2
    valid = (labels >= 0) & (size > 1e-3).all(-1)
    x = centre[..., 0].floor().clamp(0, w - 1)
    y = centre[..., 1].floor().clamp(0, h - 1)
    sigma = (SPREAD * size / 6).clamp_min(0.3)
    xs = torch.arange(w, device=boxes.device, dtype=torch.float32)
    ys = torch.arange(h, device=boxes.device, dtype=torch.float32)
    gauss_x = torch.exp(-((xs - x[..., None]) ** 2) / (2 * sigma[..., 0:1] ** 2))
    gauss_y = torch.exp(-((ys - y[..., None]) ** 2) / (2 * sigma[..., 1:2] ** 2))
    return Centres(
        valid=valid,
        cell=(y * w + x).long(),
        offset=centre - torch.stack([x, y], dim=-1),
        log_size=size.log(),
        gauss_x=gauss_x * valid[..., None],
        gauss_y=gauss_y,
    )


def heatmap(found: Centres, labels: torch.Tensor, classes: int) -> torch.Tensor:
    """(B, classes, h, w) target heatmap: per class, the largest of its boxes' Gaussians."""
    b, m, w = found.gauss_x.shape
    h = found.gauss_y.shape[-1]
    gauss = (found.gauss_y[..., :, None] * found.gauss_x[..., None, :]).reshape(b, m, h * w)
    index = labels.clamp_min(0)[..., None].expand(b, m, h * w)
    heat = torch.zeros(b, classes, h * w, device=gauss.device)
    heat = heat.scatter_reduce(1, index, gauss, reduce="amax")
    return heat.view(b, classes, h, w)


def focal_loss(logits: torch.Tensor, target: torch.Tensor, positives: int) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss of (B, K, h, w) logits against the target
    heatmap, summed and divided by the number of objects."""
    p = torch.sigmoid(logits)
    peak = target >= 1 - 1e-4
    pos = F.logsigmoid(logits) * (1 - p) ** 2
    neg = F.logsigmoid(-logits) * p**2 * (1 - target) ** 4
    return -torch.where(peak, pos, neg).sum() / max(positives, 1)


def detection_loss(
    output: torch.Tensor, boxes: torch.Tensor, labels: torch.Tensor, stride: int
) -> torch.Tensor:
    """Scalar loss of the network's output (B, K + 4, h, w) against boxes (B, M, 4) and
    labels (B, M): focal loss on the heatmap + L1 of offsets and log sizes at the centres."""
    b, channels, h, w = output.shape
    classes = channels - 4
    output = output.float()
    found = centres(boxes, labels, stride, h, w)
    target = heatmap(found, labels, classes)
    positives = int(found.valid.sum())
    heat_loss = focal_loss(output[:, :classes], target, positives)
    regress = output[:, classes:].flatten(2)  # (B, 4, h * w)
    at = regress.gather(2, found.cell[:, None, :].expand(b, 4, -1)).transpose(1, 2)  # (B, M, 4)
    wanted = torch.cat([found.offset, found.log_size], dim=-1)
    box_loss = ((at - wanted).abs().sum(-1) * found.valid).sum() / max(positives, 1)
    return heat_loss + box_loss


@dataclass(frozen=True)
class Detections:
    """Per image the top candidates: boxes (B, N, 4) pixel edges, scores (B, N) and labels
    (B, N) long, -1 where nothing was found (below the threshold, or suppressed)."""

    boxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor


def decode(
    output: torch.Tensor,
    stride: int,
    image_size: tuple[int, int],
    top_k: int,
    threshold: float,
    nms_iou: float | None,
) -> Detections:
    """The network's output (B, K + 4, h, w) -> boxes: the `top_k` highest heatmap peaks (a
    cell at least as high as its 3x3 neighbours) with score at least `threshold`, each a box
    from its offset and size, clipped to the image (H, W); then class-aware NMS at IoU
    `nms_iou` (None: none)."""
    b, channels, h, w = output.shape
    classes = channels - 4
    output = output.float()
    heat = torch.sigmoid(output[:, :classes])
    peaks = heat == F.max_pool2d(heat, 3, stride=1, padding=1)
    scores, index = (heat * peaks).flatten(1).topk(min(top_k, classes * h * w), dim=1)
    labels, cell = index // (h * w), index % (h * w)
    regress = output[:, classes:].flatten(2).gather(2, cell[:, None, :].expand(b, 4, -1))
    x = cell % w + regress[:, 0]
    y = cell // w + regress[:, 1]
    half_w, half_h = regress[:, 2].exp() / 2, regress[:, 3].exp() / 2
    boxes = torch.stack([x - half_w, y - half_h, x + half_w, y + half_h], dim=-1) * stride
    height, width = image_size
    limit = torch.tensor([width, height, width, height], device=boxes.device, dtype=boxes.dtype)
    boxes = torch.minimum(boxes.clamp_min(0), limit)
    labels = torch.where(scores >= threshold, labels, -1)
    if nms_iou is not None:
        labels = torch.where(batched_nms(boxes, scores, labels, nms_iou), labels, -1)
    return Detections(boxes, scores, labels)
