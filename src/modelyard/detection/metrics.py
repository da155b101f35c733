"""mAP as COCO measures it, through `faster_coco_eval` (the C++ backend torchmetrics'
MeanAveragePrecision hands its work to; that wrapper itself needs torchvision, which modelyard
does without): `map_50` at IoU 0.5 and `map` averaged over IoU 0.5, 0.55, ..., 0.95, with at
most 100 detections per image."""

from __future__ import annotations

import logging

import torch


def mean_average_precision(found, boxes: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """`found` (targets.Detections, N images; -1 labels left out) against the true boxes
    (N, M, 4) and labels (N, M) (-1 padding), pixel edges -> {map_50, map}. With no true box
    at all both are 0."""
    from faster_coco_eval import COCO, COCOeval_faster

    truth = _coco_truth(boxes, labels)
    if not truth["annotations"]:
        return {"map_50": 0.0, "map": 0.0}
    quiet = logging.getLogger("faster_coco_eval").debug
    ground = COCO(truth, print_function=quiet)
    results = _coco_results(found)
    if not results:
        return {"map_50": 0.0, "map": 0.0}
    evaluation = COCOeval_faster(ground, ground.loadRes(results), "bbox", print_function=quiet)
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    stats = [max(float(s), 0.0) for s in evaluation.stats[:2]]  # -1: no such boxes
    return {"map": stats[0], "map_50": stats[1]}


def _xywh(boxes: torch.Tensor) -> list[list[float]]:
    """(n, 4) x1, y1, x2, y2 -> COCO's [x, y, width, height] rows."""
    b = boxes.double()
    return torch.cat([b[:, :2], b[:, 2:] - b[:, :2]], dim=1).tolist()


def _coco_truth(boxes: torch.Tensor, labels: torch.Tensor) -> dict:
    annotations = []
    for i in range(len(boxes)):
        real = labels[i] >= 0
        for box, label in zip(_xywh(boxes[i][real]), labels[i][real].tolist(), strict=True):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i,
                    "category_id": label,
                    "bbox": box,
                    "area": box[2] * box[3],
                    "iscrowd": 0,
                }
            )
    classes = int(labels.max()) + 1 if labels.numel() else 0
    return {
        "images": [{"id": i} for i in range(len(boxes))],
        "annotations": annotations,
        "categories": [{"id": c} for c in range(classes)],
    }


def _coco_results(found) -> list[dict]:
    results = []
    for i in range(len(found.boxes)):
        kept = found.labels[i] >= 0
        rows = zip(
            _xywh(found.boxes[i][kept]),
            found.labels[i][kept].tolist(),
            found.scores[i][kept].tolist(),
            strict=True,
        )
        results += [{"image_id": i, "category_id": c, "bbox": b, "score": s} for b, c, s in rows]
    return results
