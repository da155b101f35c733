"""Image inputs from file paths: decoded with Pillow, resized, kept as uint8 until the model."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from modelyard.config.checks import crop_problem
from modelyard.data.features.base import Feature, is_missing, map_files, row_label
from modelyard.errors import UserError

_SAMPLE_FOR_STATS = 2000


class ImageFeature(Feature):
    """(N, C, H, W) uint8 pixels; per-channel mean/std fitted on training images for the model."""

    type = "image"
    from_file = True

    def augmenter(self):
        """Random crop and horizontal flip of the stored uint8 images, as configured."""
        from modelyard.data.augment import ImageAugment

        a = self.config.preprocessing.augment
        if not (a.random_crop or a.horizontal_flip):
            return None
        fill = tuple(m * 255.0 for m in self.mean)  # the training mean: 0 once normalised
        return ImageAugment(self.name, fill, a.random_crop, a.horizontal_flip)

    explain_kind = "image"
    export_preprocessing = "uint8 pixels (batch, channels, height, width) after resizing; normalisation is inside the graph"

    def drops_missing(self, training: bool) -> bool:
        """With `missing: drop`, in every labelled split: a missing file cannot be filled in
        (evaluation records the rows left out; prediction refuses them)."""
        return self.config.preprocessing.missing == "drop"

    def fit(self, series: pd.Series) -> None:
        prep = self.config.preprocessing
        first = _open(str(series.iloc[0]), self.column, row_label(series, 0))
        self.height = prep.height or first.height
        self.width = prep.width or first.width
        color = prep.color
        if color == "auto":
            color = "grayscale" if first.mode in ("1", "L", "LA", "I", "I;16", "F") else "rgb"
        self.channels = 1 if color == "grayscale" else 3
        problem = crop_problem(
            f"input '{self.name}': preprocessing.augment.random_crop",
            prep.augment.random_crop,
            self.height,
            self.width,
        )
        if problem:
            raise UserError(problem)
        sample = np.random.default_rng(0).permutation(len(series))[:_SAMPLE_FOR_STATS]
        pixels = (
            self.transform(series.iloc[np.sort(sample)]).float() / 255.0
        )  # all classes, not a sorted prefix
        if prep.normalization == "standard":
            self.mean = pixels.mean(dim=(0, 2, 3)).tolist()
            self.std = [max(s, 1e-3) for s in pixels.std(dim=(0, 2, 3)).tolist()]
        else:
            self.mean, self.std = [0.0] * self.channels, [1.0] * self.channels
        self.note(f"images resized to {self.height}x{self.width}, {color}")

    def transform(self, series: pd.Series) -> torch.Tensor:
        """(N, C, H, W) uint8."""
        missing = is_missing(series)
        if missing.any():
            position = int(np.flatnonzero(missing)[0])
            raise UserError(
                f"column '{self.column}' {row_label(series, position)}: no image path ({int(missing.sum())} rows); fill them in or set preprocessing.missing: drop"
            )
        jobs = [(str(p), row_label(series, i)) for i, p in enumerate(series)]
        return torch.from_numpy(np.stack(map_files(self._load, jobs)))

    def _load(self, path: str, row: str) -> np.ndarray:
        image = _open(path, self.column, row)
        image = image.convert("L" if self.channels == 1 else "RGB")
        if image.size != (self.width, self.height):
            from PIL import Image

            image = image.resize((self.width, self.height), Image.Resampling.BILINEAR)
        array = np.asarray(image, dtype=np.uint8)
        return array[None] if self.channels == 1 else array.transpose(2, 0, 1)

    def example_tensor(self, rows: int, generator: torch.Generator) -> torch.Tensor:
        """(rows, C, H, W) uint8 random pixels."""
        shape = (rows, self.channels, self.height, self.width)
        return torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8)

    def attribution_layer(self, encoder: Any) -> nn.Module:
        """The normalising `Pixels` module that starts every image encoder (models/build.py),
        whose output is an affine map of the float pixels: integrated gradients there equals
        integrated gradients on a float copy of the uint8 pixels."""
        return encoder[0]

    def explain_baseline(self, x: torch.Tensor) -> torch.Tensor:
        """The training mean colour, (N, C, H, W) uint8 like `x`."""
        mean = torch.tensor(self.mean).view(1, -1, 1, 1)
        return (mean * 255).round().to(torch.uint8).expand_as(x).contiguous()

    def state(self) -> dict[str, Any]:
        return {
            "height": self.height,
            "width": self.width,
            "channels": self.channels,
            "mean": self.mean,
            "std": self.std,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        for key in ("height", "width", "channels", "mean", "std"):
            setattr(self, key, state[key])


def _open(path: str, column: str, row: str):
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(path)
        image.load()
        return image
    except FileNotFoundError:
        raise UserError(f"column '{column}' {row}: image file '{path}' does not exist") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise UserError(
            f"column '{column}' {row}: image file '{path}' cannot be read ({e}); replace or remove it"
        ) from None
