"""Cross-field rules of `task: object_detection` configs (config/checks.py runs them), and
the data check of `modelyard validate`."""

from __future__ import annotations

import math
from pathlib import Path

KNOWN_METRICS = ("loss", "map_50", "map")


def early_stopping_metric(config) -> list[str]:
    stopping = config.trainer.early_stopping
    if stopping is not None and stopping.metric not in KNOWN_METRICS:
        return [
            f"trainer.early_stopping.metric: object detection measures "
            f"{', '.join(KNOWN_METRICS)}, not '{stopping.metric}'"
        ]
    return []


def encoder_reaches_stride(config) -> list[str]:
    """The neck reads the pyramid from stride neck.stride down: the encoder needs the stages."""
    stages = len(config.model.encoder.channels)
    needed = int(math.log2(config.model.neck.stride)) + 1
    if stages < needed:
        return [
            f"model.encoder.channels: {stages} stages reach stride {2 ** (stages - 1)}, but "
            f"model.neck.stride is {config.model.neck.stride}; give the encoder at least "
            f"{needed} stages or lower the stride"
        ]
    return []


def resnet_blocks_match(config) -> list[str]:
    encoder = config.model.encoder
    if encoder.type == "resnet" and len(encoder.blocks) != len(encoder.channels):
        return [
            f"model.encoder.blocks: {len(encoder.blocks)} entries for {len(encoder.channels)} "
            "channels stages; give one block count per stage"
        ]
    return []


CHECKS = [early_stopping_metric, encoder_reaches_stride, resnet_blocks_match]


def check_box_files(config, base: Path) -> list[str]:
    """Every box file read and checked (columns, numbers, degenerate boxes, images present,
    boxes inside them, held-out classes known in training); one summary line per split."""
    from modelyard.detection.data import class_codes, image_sizes
    from modelyard.detection.model import SPLITS, ObjectDetector

    reader = ObjectDetector(config, base)
    lines, classes = [], None
    for name in SPLITS:
        file = getattr(config.data, name)
        if not file:
            continue
        boxes = reader._read(base / file)
        image_sizes(boxes)
        if classes is None:
            classes = sorted({n for names in boxes.labels for n in names})
        else:
            class_codes(boxes, classes)
        count = sum(len(b) for b in boxes.boxes)
        lines.append(f"{name}: {len(boxes)} images, {count} boxes")
    lines.append(f"classes: {len(classes or [])}")
    return lines
