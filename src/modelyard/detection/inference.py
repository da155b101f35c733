"""Running the detector over a split in batches: detections, the held-out loss and the time."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from modelyard.detection.targets import Detections, decode, detection_loss


@dataclass(frozen=True)
class Decoding:
    """How outputs become boxes (targets.decode): cells of `stride` pixels on (H, W) images."""

    stride: int
    image_size: tuple[int, int]
    top_k: int
    nms_iou: float | None
    flip_test: bool = False


@torch.no_grad()
def run_detector(
    network, tensors: dict[str, torch.Tensor], batch: int, decoding: Decoding, device, bf16: bool
) -> tuple[Detections, float, float]:
    """Over `tensors` {image (N, C, H, W), and where labelled boxes (N, M, 4), labels (N, M)}
    in batches of `batch`, in eval mode: (detections on the CPU, the mean loss (NaN without
    boxes), seconds spent in the network and decoding)."""
    from modelyard.train.precision import autocast

    inner = getattr(network, "module", network)
    was_training = inner.training
    inner.eval()
    found, total, seconds = [], 0.0, 0.0
    images = tensors["image"]
    for at in range(0, len(images), batch):
        began = time.perf_counter()
        with autocast(device, bf16):
            output = _forward(inner, images[at : at + batch].to(device), decoding.flip_test)
        found.append(
            decode(
                output, decoding.stride, decoding.image_size, decoding.top_k, 0.0, decoding.nms_iou
            )
        )
        seconds += time.perf_counter() - began
        if "boxes" in tensors:
            boxes, labels = (tensors[k][at : at + batch].to(device) for k in ("boxes", "labels"))
            total += float(detection_loss(output, boxes, labels, decoding.stride)) * len(boxes)
    inner.train(was_training)
    joined = Detections(
        *(torch.cat([getattr(d, k) for d in found]).cpu() for k in ("boxes", "scores", "labels"))
    )
    loss = total / max(len(images), 1) if "boxes" in tensors else float("nan")
    return joined, loss, seconds


def _forward(network, images: torch.Tensor, flip_test: bool) -> torch.Tensor:
    """(B, C, H, W) -> (B, K + 4, h, w); with `flip_test`, each class heatmap is the mean
    chance of the image's and of its mirror image's (mirrored back), offsets and sizes the
    image's own."""
    output = network(images).float()
    if not flip_test:
        return output
    classes = output.shape[1] - 4
    mirrored = network(images.flip(-1)).float()[:, :classes].flip(-1)
    chance = (torch.sigmoid(output[:, :classes]) + torch.sigmoid(mirrored)) / 2
    return torch.cat([torch.logit(chance, eps=1e-6), output[:, classes:]], dim=1)
