"""Box operations and CenterNet targets against plain references (numpy, one box at a time)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modelyard.detection.boxes import batched_nms, box_iou
from modelyard.detection.targets import centres, decode, detection_loss, heatmap


def _random_boxes(generator: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    corner = generator.uniform(0, 50, (*shape, 2))
    size = generator.uniform(1, 30, (*shape, 2))
    return np.concatenate([corner, corner + size], axis=-1)


def _iou_reference(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _nms_reference(boxes, scores, labels, threshold) -> set[int]:
    """Greedy NMS per class, one box at a time: the indices kept."""
    kept: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if labels[i] < 0:
            continue
        if all(
            labels[j] != labels[i] or _iou_reference(boxes[i], boxes[j]) <= threshold for j in kept
        ):
            kept.append(int(i))
    return set(kept)


def test_box_iou_matches_a_brute_force_reference():
    g = np.random.default_rng(0)
    a, b = _random_boxes(g, (2, 7)), _random_boxes(g, (2, 5))
    got = box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    expected = np.array(
        [[[_iou_reference(a[k, i], b[k, j]) for j in range(5)] for i in range(7)] for k in range(2)]
    )
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    assert box_iou(torch.tensor([[0.0, 0, 10, 10]]), torch.tensor([[0.0, 0, 10, 10]])).item() == 1.0


@pytest.mark.parametrize("threshold", [0.1, 0.3, 0.6])
def test_batched_nms_matches_greedy_per_class_nms(threshold):
    g = np.random.default_rng(1)
    boxes = _random_boxes(g, (3, 40))
    scores = g.uniform(0, 1, (3, 40))
    labels = g.integers(-1, 3, (3, 40))  # -1: not a candidate
    keep = batched_nms(
        torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(labels), threshold
    ).numpy()
    for k in range(3):
        assert set(np.flatnonzero(keep[k]).tolist()) == _nms_reference(
            boxes[k], scores[k], labels[k], threshold
        )


def test_nms_keeps_overlapping_boxes_of_different_classes():
    boxes = torch.tensor([[[0.0, 0, 10, 10], [1, 1, 10, 10], [1, 1, 10, 10]]])
    keep = batched_nms(boxes, torch.tensor([[0.9, 0.8, 0.7]]), torch.tensor([[0, 1, 0]]), 0.5)
    assert keep.tolist() == [[True, True, False]]


def _perfect_output(boxes, labels, classes, stride, h, w) -> torch.Tensor:
    """The output a perfect network would give: the target heatmap as logits, and the exact
    offsets and log sizes at the centres."""
    found = centres(boxes, labels, stride, h, w)
    heat = heatmap(found, labels, classes).clamp(1e-6, 1 - 1e-6)
    regress = torch.zeros(boxes.shape[0], 4, h * w)
    values = torch.cat([found.offset, found.log_size], dim=-1).transpose(1, 2)  # (B, 4, M)
    regress.scatter_(2, found.cell[:, None, :].expand(-1, 4, -1), values)
    return torch.cat([torch.logit(heat), regress.view(-1, 4, h, w)], dim=1)


def test_decoding_a_perfect_output_gives_back_the_boxes():
    boxes = torch.tensor([[[4.0, 8, 40, 30], [50, 50, 90, 95], [0, 0, 0, 0]]])
    labels = torch.tensor([[2, 0, -1]])
    output = _perfect_output(boxes, labels, 3, 4, 24, 24)
    found = decode(output, 4, (96, 96), top_k=10, threshold=0.5, nms_iou=0.5)
    kept = found.labels[0] >= 0
    assert sorted(found.labels[0][kept].tolist()) == [0, 2]
    order = found.labels[0][kept].argsort(descending=True)
    torch.testing.assert_close(found.boxes[0][kept][order], boxes[0, :2], atol=1e-4, rtol=0)


def test_the_loss_is_lower_for_the_perfect_output_and_has_gradients():
    boxes = torch.tensor([[[4.0, 8, 40, 30], [50, 50, 90, 95]]])
    labels = torch.tensor([[2, 0]])
    perfect = _perfect_output(boxes, labels, 3, 4, 24, 24)
    noisy = (
        perfect + torch.randn(perfect.shape, generator=torch.Generator().manual_seed(0))
    ).requires_grad_()
    loss = detection_loss(noisy, boxes, labels, 4)
    loss.backward()
    assert detection_loss(perfect, boxes, labels, 4) < loss
    assert noisy.grad is not None and torch.isfinite(noisy.grad).all()


def test_a_padded_box_adds_no_target():
    boxes = torch.tensor([[[4.0, 8, 40, 30], [0, 0, 90, 95]]])
    alone = heatmap(centres(boxes[:, :1], torch.tensor([[1]]), 4, 24, 24), torch.tensor([[1]]), 2)
    labels = torch.tensor([[1, -1]])
    padded = heatmap(centres(boxes, labels, 4, 24, 24), labels, 2)
    torch.testing.assert_close(alone, padded)
    assert padded.amax().item() == pytest.approx(1.0)
