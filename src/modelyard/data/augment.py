"""Training-time augmentation, applied by the batch source to training batches only.

An augmenter takes one batch ({name: (B, ...)}, already indexed, on the training device) and
the random generator of this process's step, and returns the batch with its input changed:
per batch and vectorised (each example still gets its own random draws). The model never
augments, so evaluation, prediction, export and serving see the inputs as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

Tensors = dict[str, torch.Tensor]
Augmenter = Callable[[Tensors, torch.Generator], Tensors]


@dataclass(frozen=True)
class ImageAugment:
    """Random crop and horizontal flip of the images `name`: (B, C, H, W) uint8, before the
    model's normalisation. The crop pads each side by `padding` pixels with `fill` (each
    channel's training mean, 0..255: what normalises to 0) and cuts back to (H, W) at a random
    offset per image; then cropped images are float32 (the mean is rarely a whole pixel value)
    in 0..255, which the model's `Pixels` normalises as it does uint8."""

    name: str
    fill: tuple[float, ...]  # (C,) each channel's training mean, 0..255
    padding: int = 0
    flip: bool = False

    def __call__(self, batch: Tensors, generator: torch.Generator) -> Tensors:
        x = batch[self.name]
        if self.padding:
            x = _random_crop(x, self.padding, self.fill, generator)
        if self.flip:
            flip = torch.rand(x.shape[0], device=x.device, generator=generator) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
        return {**batch, self.name: x}


def _random_crop(
    x: torch.Tensor, pad: int, fill: tuple[float, ...], generator: torch.Generator
) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H, W) float32: padded by `pad` with `fill` (C,) per channel, cut
    back at a random offset per image."""
    b, c, h, w = x.shape
    device = x.device
    padded = (
        torch.tensor(fill, device=device).view(1, c, 1, 1).repeat(b, 1, h + 2 * pad, w + 2 * pad)
    )
    padded[:, :, pad : pad + h, pad : pad + w] = x
    dy = torch.randint(0, 2 * pad + 1, (b,), device=device, generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (b,), device=device, generator=generator)
    rows = (dy.view(b, 1) + torch.arange(h, device=device)).view(b, 1, h, 1)
    cols = (dx.view(b, 1) + torch.arange(w, device=device)).view(b, 1, 1, w)
    batch = torch.arange(b, device=device).view(b, 1, 1, 1)
    channel = torch.arange(c, device=device).view(1, c, 1, 1)
    return padded[batch, channel, rows, cols]


@dataclass(frozen=True)
class SpecAugment:
    """SpecAugment (Park et al. 2019) of the spectrograms `name`: (B, 1, M, T), float16 or
    float32, dtype kept. Sets `time_masks` random spans of 0..`time_width` frames and
    `freq_masks` spans of 0..`freq_width` mel bands to 0 (the normalised mean); each example
    gets its own spans."""

    name: str
    time_masks: int
    time_width: int
    freq_masks: int
    freq_width: int

    def __call__(self, batch: Tensors, generator: torch.Generator) -> Tensors:
        x = batch[self.name]
        b, _, mels, frames = x.shape
        if self.time_masks:
            keep = _keep(b, frames, self.time_masks, self.time_width, x.device, generator)
            x = x * keep.to(x.dtype).view(b, 1, 1, frames)
        if self.freq_masks:
            keep = _keep(b, mels, self.freq_masks, self.freq_width, x.device, generator)
            x = x * keep.to(x.dtype).view(b, 1, mels, 1)
        return {**batch, self.name: x}


def _keep(
    batch: int, size: int, count: int, width: int, device, generator: torch.Generator
) -> torch.Tensor:
    """(batch, size) float: 0 inside `count` random spans of 0..width positions per row, else 1.
    Hand-written: torchaudio's masking is not a dependency here."""
    widths = torch.randint(
        0, min(width, size) + 1, (batch, count, 1), device=device, generator=generator
    )
    starts = (
        torch.rand(batch, count, 1, device=device, generator=generator) * (size - widths + 1)
    ).long()
    position = torch.arange(size, device=device).view(1, 1, -1)
    masked = ((position >= starts) & (position < starts + widths)).any(dim=1)
    return (~masked).float()


def build_augmenters(preprocessing) -> list[Augmenter]:
    """The augmenters the inputs' configs ask for (`preprocessing.augment` of image and audio
    inputs, each feature's `augmenter()`; outputs whose targets move with an input, their task's
    `augmenter`), sized by the fitted features (an image's channel means); none for the others."""
    from modelyard.tasks import task_of

    found = [feature.augmenter() for feature in preprocessing.inputs]
    found += [task_of(feature).augmenter(feature) for feature in preprocessing.outputs]
    return [augmenter for augmenter in found if augmenter is not None]
