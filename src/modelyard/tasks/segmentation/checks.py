"""Config checks of mask outputs (`SegmentationTask.check`)."""

from __future__ import annotations

PYRAMID_ENCODERS = ("cnn", "resnet")


def mask_output_problems(config, index: int) -> list[str]:
    """Messages for what is wrong with the mask output `config.outputs[index]`: it needs
    exactly one input, an image with a cnn or resnet encoder, not augmented on its own."""
    output = config.outputs[index]
    where = f"outputs[{index}]"
    if not output.classes:
        return [
            f"{where}.classes: name the classes of the mask values 1, 2, ... (a list, or a text "
            "file with one name per line); value 0 is the background"
        ]
    images = [f for f in config.inputs if f.type == "image"]
    if len(config.inputs) != 1 or not images:
        kinds = ", ".join(f"{f.name} ({f.type})" for f in config.inputs)
        return [
            f"inputs: a mask output ('{output.name}') labels the pixels of exactly one image "
            f"input, but the inputs are {kinds}; keep only the image input"
        ]
    image = images[0]
    problems = []
    if image.encoder.type not in PYRAMID_ENCODERS:
        problems.append(
            f"inputs[0].encoder: {image.encoder.type} keeps no feature maps for a U-Net; "
            f"use {' or '.join(PYRAMID_ENCODERS)}"
        )
    augment = image.preprocessing.augment
    if augment.random_crop or augment.horizontal_flip:
        problems.append(
            "inputs[0].preprocessing.augment: a crop or flip of the image alone no longer "
            f"matches its mask; leave it out and use {where}.augment (zoom, shift, flip move "
            "the mask with the image)"
        )
    decoder = output.decoder.channels
    if decoder is not None and len(decoder) != len(image.encoder.channels):
        problems.append(
            f"{where}.decoder.channels: {len(decoder)} widths for an encoder of "
            f"{len(image.encoder.channels)} stages; give one per stage, or leave it out"
        )
    if output.background in output.classes:
        problems.append(
            f"{where}.classes: '{output.background}' is the background (value 0, "
            f"{where}.background); list the other classes only"
        )
    return problems
