"""Semantic segmentation (`outputs: [{type: mask}]` beside one image input): a class per pixel.

The model is the image input's encoder (cnn or resnet), read stage by stage through its
feature pyramid, into a U-Net decoder (`model.Segmenter`); the loss per-pixel cross-entropy
(+ soft Dice); the metrics `miou`, `dice` and `miou_objects` over every pixel of a split
(`metrics.py`); predictions are PNG masks (base64 text in the table; `modelyard predict`
writes them as files next to its output table). Training batches are zoomed, shifted and
flipped with their masks (`data/geometry.SpatialAugment`).
"""

from __future__ import annotations

from pathlib import Path

from modelyard.config.schema.segmentation import MaskOutput
from modelyard.tasks.base import HIGHER, Task
from modelyard.tasks.segmentation.feature import MaskFeature, decode_mask

__all__ = ["SegmentationTask", "decode_mask"]

OVERLAYS = 6  # test images the report shows with their true and predicted masks
TERMS = "/loss_terms"  # the key (after the output's name) of the loss's sums per image


class SegmentationTask(Task):
    """A class per pixel of the one image input; the whole model is the encoder and a U-Net."""

    type = "mask"
    schema = MaskOutput
    feature = MaskFeature
    metrics = {"miou": HIGHER, "dice": HIGHER, "miou_objects": HIGHER, "pixel_accuracy": HIGHER}
    capabilities = frozenset({"explain", "export", "serve"})
    own_model = True
    reads_files = True
    compacts = True  # evaluation keeps the class per pixel (1 byte), not K float scores

    def build(self, config, preprocessing):
        from modelyard.models.build import ENCODERS
        from modelyard.tasks.segmentation.model import Segmenter, UNetDecoder

        (image,) = preprocessing.inputs  # config check: one image input
        (mask,) = preprocessing.outputs
        encoder = ENCODERS.get(f"image.{image.config.encoder.type}")(image.config.encoder, image)
        pyramid = encoder[1].pyramid_channels
        wanted = mask.config.decoder.channels or [max(8, c // 2) for c in pyramid]
        decoder = UNetDecoder(pyramid, wanted, len(mask.classes), mask.config.decoder.convs)
        return Segmenter(image.name, encoder, mask.name, decoder, mask.config.flip_test)

    def loss(self, output):
        from modelyard.tasks.segmentation.model import MaskLoss

        return MaskLoss(output.dice_weight)

    def compact(self, feature, scores, target):
        """(B, K, H, W) scores -> {output: (B, H, W) uint8 best class per pixel} and, with
        the batch's (B, H, W) target, {`<output>/loss_terms`: (B, 2 + 3K)} for `loss_of`:
        a split's evaluation holds a byte per pixel, not K floats."""
        from modelyard.tasks.segmentation.metrics import predicted_classes
        from modelyard.tasks.segmentation.model import loss_terms

        kept = {feature.name: predicted_classes(scores)}
        if target is not None:
            kept[feature.name + TERMS] = loss_terms(scores, target)
        return kept

    def loss_of(self, feature, loss, outputs):
        terms = outputs.get(feature.name + TERMS)
        return None if terms is None else loss.from_terms(terms)

    def masks_missing_labels(self, output) -> bool:
        return False

    def augmenter(self, feature):
        """The training batches' zoom, shift and flip, moving each mask with its image."""
        from modelyard.data.geometry import SpatialAugment

        a = feature.config.augment
        if a.zoom == (1.0, 1.0) and not a.shift and not a.flip:
            return None
        fill = tuple(m * 255.0 for m in feature.image.mean)  # what normalises to 0
        return SpatialAugment(
            feature.image.name,
            mask=feature.name,
            zoom=a.zoom,
            shift=a.shift,
            flip=a.flip,
            fill=fill,
        )

    def score(self, feature, outputs, table, details: bool):
        from modelyard.tasks.segmentation.metrics import (
            confusion,
            mask_metrics,
            per_class,
            predicted_classes,
        )

        predicted = predicted_classes(outputs[feature.name])
        target = table.tensors[feature.name]
        matrix = confusion(predicted, target, len(feature.classes))
        found = mask_metrics(matrix)
        if not details:
            return found, {}
        from modelyard.tasks.segmentation.figures import overlays, per_class_bars

        iou, dice = per_class(matrix)
        detail = {
            "per_class_iou": dict(zip(feature.classes, iou, strict=True)),
            "per_class_dice": dict(zip(feature.classes, dice, strict=True)),
            "figures": [
                per_class_bars(feature.classes, iou),
                overlays(feature, table, predicted[:OVERLAYS], target[:OVERLAYS]),
            ],
        }
        return found, detail

    def predictions(self, feature, outputs):
        """`<output>_prediction`: each row's mask as PNG (8-bit, the class per pixel), base64."""
        from modelyard.tasks.segmentation.metrics import predicted_classes

        predicted = predicted_classes(outputs[feature.name])
        return {f"{feature.name}_prediction": feature.encode(predicted)}

    def prediction_files(self, feature, predictions, out: Path):
        """The predictions table as `predict --out` writes it: each mask a PNG file in the
        folder `<out stem>_<output>/` beside `out`, the column holding its path relative to
        `out`'s folder."""
        from modelyard.tasks.segmentation.figures import write_masks

        column = f"{feature.name}_prediction"
        folder = out.parent / f"{out.stem}_{feature.name}"
        paths = write_masks(predictions[column], folder)
        return predictions.assign(**{column: [str(p.relative_to(out.parent)) for p in paths]})

    def explain_rows(self, model, feature, frame, method, rows, target):
        """A heatmap per image and predicted class (integrated gradients; explain.py)."""
        from modelyard.tasks.segmentation.explain import class_heatmaps

        return class_heatmaps(model, feature, frame, method, rows, target)

    def output_meaning(self, feature) -> str:
        names = ", ".join(f"{i}={c}" for i, c in enumerate(feature.classes))
        return f"(batch, classes, height, width) class scores per pixel; argmax over axis 1 gives the class ({names})"

    def check(self, config, index: int) -> list[str]:
        """A mask output labels the pixels of exactly one image input, whose encoder gives a
        feature pyramid (cnn, resnet) and which is not augmented on its own (a crop or flip
        of the image alone would no longer match its mask)."""
        from modelyard.tasks.segmentation.checks import mask_output_problems

        return mask_output_problems(config, index)
