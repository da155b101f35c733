"""mAP through faster_coco_eval against pycocotools' reference COCO evaluation, and the
detector network's shapes on both encoders."""

from __future__ import annotations

import contextlib
import io
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from modelyard.detection.metrics import mean_average_precision
from modelyard.detection.network import build_network
from modelyard.detection.targets import Detections


def _random_case(seed: int):
    g = torch.Generator().manual_seed(seed)
    n, m, k = 12, 4, 30
    corner = torch.rand(n, m, 2, generator=g) * 60
    truth = torch.cat([corner, corner + 5 + torch.rand(n, m, 2, generator=g) * 30], -1)
    labels = torch.randint(0, 3, (n, m), generator=g)
    labels[:, -1] = -1  # padding
    jitter = torch.randn(n, m, 4, generator=g) * 3
    guesses = torch.cat([truth + jitter, torch.rand(n, k - m, 4, generator=g) * 40], 1)
    guesses[..., 2:] = torch.maximum(guesses[..., 2:], guesses[..., :2] + 1)
    guess_labels = torch.cat([labels.clamp_min(0), torch.randint(0, 3, (n, k - m), generator=g)], 1)
    found = Detections(guesses, torch.rand(n, k, generator=g), guess_labels)
    return found, truth, labels


def _pycocotools(found, truth, labels) -> tuple[float, float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def xywh(b):
        return [b[0], b[1], b[2] - b[0], b[3] - b[1]]

    annotations, results = [], []
    for i in range(len(truth)):
        for box, label in zip(truth[i].tolist(), labels[i].tolist(), strict=True):
            if label >= 0:
                w = xywh(box)
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": i,
                        "category_id": label,
                        "bbox": w,
                        "area": w[2] * w[3],
                        "iscrowd": 0,
                    }
                )
        for box, label, score in zip(
            found.boxes[i].tolist(), found.labels[i].tolist(), found.scores[i].tolist(), strict=True
        ):
            results.append({"image_id": i, "category_id": label, "bbox": xywh(box), "score": score})
    with contextlib.redirect_stdout(io.StringIO()):
        ground = COCO()
        ground.dataset = {
            "images": [{"id": i} for i in range(len(truth))],
            "annotations": annotations,
            "categories": [{"id": c} for c in range(3)],
        }
        ground.createIndex()
        evaluation = COCOeval(ground, ground.loadRes(results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return float(evaluation.stats[0]), float(evaluation.stats[1])


@pytest.mark.parametrize("seed", [0, 1])
def test_map_matches_pycocotools(seed):
    found, truth, labels = _random_case(seed)
    got = mean_average_precision(found, truth, labels)
    expected_map, expected_50 = _pycocotools(found, truth, labels)
    assert 0 < got["map"] < got["map_50"] < 1
    assert got["map"] == pytest.approx(expected_map, abs=1e-6)
    assert got["map_50"] == pytest.approx(expected_50, abs=1e-6)


def test_perfect_detections_score_one_and_none_score_zero():
    _, truth, labels = _random_case(2)
    scores = torch.ones(labels.shape)
    assert mean_average_precision(Detections(truth, scores, labels), truth, labels) == {
        "map": pytest.approx(1.0),
        "map_50": pytest.approx(1.0),
    }
    nothing = Detections(truth, scores, torch.full_like(labels, -1))
    assert mean_average_precision(nothing, truth, labels) == {"map": 0.0, "map_50": 0.0}


@pytest.mark.parametrize(
    "encoder",
    [
        SimpleNamespace(
            type="cnn", channels=[4, 8, 8], kernel_size=3, batch_norm=True, activation="relu"
        ),
        SimpleNamespace(type="resnet", channels=[4, 8, 8], blocks=[1, 1, 1]),
    ],
)
def test_the_network_gives_k_plus_4_channels_at_the_stride(encoder):
    image = SimpleNamespace(channels=1, height=32, width=40, mean=[0.5], std=[0.2])
    network = build_network(encoder, image, 3, SimpleNamespace(stride=4, width=8, head_width=8))
    out = network(torch.randint(0, 256, (2, 1, 32, 40), dtype=torch.uint8))
    assert out.shape == (2, 7, 8, 10)
    assert np.allclose(torch.sigmoid(out[:, :3]).mean().item(), 0.01, atol=0.01)  # the prior
