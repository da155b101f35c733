"""Semantic segmentation outputs: a class per pixel of the image input (`type: mask`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt

from modelyard.config.schema.common import PositiveFloat, Strict


class MaskAugment(Strict):
    """Training-time only: each image and its mask move together (data/geometry.SpatialAugment):
    zoom by a factor drawn from `zoom` ([1, 1]: none), shift by up to `shift` of the side, flip
    horizontally half the time if `flip`. Uncovered pixels become background."""

    zoom: tuple[PositiveFloat, PositiveFloat] = (1.0, 1.0)
    shift: Annotated[float, Field(ge=0, le=0.5)] = 0.0
    flip: bool = False


class UNetDecoder(Strict):
    """A U-Net decoder on the image encoder's feature pyramid (cnn or resnet; every stage at
    stride 2^i, the first at full resolution): from the coarsest stage up, each step doubles
    the resolution (bilinear), adds the stage's map through a 1x1 convolution (the skip
    connection) and refines with `convs` 3x3 conv-BN-ReLU layers of that stage's `channels`
    (default: the encoder's channels, halved), ending with a class score per pixel at the
    input's resolution. Cost: about as much as the encoder again."""

    type: Literal["unet"] = "unet"
    channels: list[PositiveInt] | None = None
    convs: PositiveInt = 1


class MaskOutput(Strict):
    """A class per pixel of the one image input (semantic segmentation). `column` holds paths
    of mask images (relative to the table's folder, like image inputs): 8-bit single-channel
    PNGs of the image's size whose value 0 is `background` and value k + 1 the k-th class of
    `classes` (a list of names, or the path of a text file with one name per line, relative
    to the config's folder). Pixels of value `ignore` (e.g. 255 for unlabelled borders) count
    in no loss or metric. Loss: per-pixel cross-entropy, plus `dice_weight` times the soft
    Dice loss. Metrics: `miou` and `dice` over every pixel of the split (background
    included; `miou_objects` without it), per-class IoU in the report. `flip_test`: when
    evaluating and predicting, average each pixel's class scores with those of the mirrored
    image (test-time flipping; worth it when training flips images, `augment.flip`): twice
    the network's time."""

    name: str
    type: Literal["mask"]
    column: str | None = None
    classes: list[str] | str | None = None  # required: a config check says so
    background: str = "background"
    ignore: Annotated[int, Field(ge=1, le=255)] | None = None
    dice_weight: Annotated[float, Field(ge=0)] = 0.0
    decoder: UNetDecoder = UNetDecoder()
    augment: MaskAugment = MaskAugment()
    flip_test: bool = False
    weight: PositiveFloat = 1.0


def read_classes_files(raw: dict, base, source: str = "config") -> dict:
    """The raw config with each mask output's `classes: FILE` replaced by the file's lines
    (one class name each, blank lines skipped), read relative to `base` (the config's
    folder), so that the resolved config.yaml lists them. Unreadable files raise ConfigError."""
    from pathlib import Path

    from modelyard.errors import ConfigError

    outputs = raw.get("outputs") if isinstance(raw, dict) else None
    if not isinstance(outputs, list):
        return raw
    resolved = []
    for i, output in enumerate(outputs):
        if (
            isinstance(output, dict)
            and output.get("type") == "mask"
            and isinstance(output.get("classes"), str)
        ):
            path = Path(base) / output["classes"]
            try:
                names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
            except (OSError, UnicodeDecodeError) as e:
                raise ConfigError(
                    [f"outputs[{i}].classes: cannot read the classes file '{path}' ({e})"], source
                ) from None
            output = {**output, "classes": [n for n in names if n]}
        resolved.append(output)
    return {**raw, "outputs": resolved}
