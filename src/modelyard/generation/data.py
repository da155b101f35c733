"""The images of an image-generation config: read (table or class folder), split, decoded.

Decoding reuses the image input's preprocessor (data/features/image.py: size, colour, file
errors naming the row), with plain [0, 1] scaling; the model sees pixels in [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from modelyard.errors import UserError

SPLITS = ("train", "validation", "test")
LABEL = "label"  # a class folder's subfolder names


@dataclass
class Images:
    """One split: (N, C, H, W) uint8 pixels and (N,) int64 class indices (None: unconditional)."""

    pixels: torch.Tensor
    labels: torch.Tensor | None

    def tensors(self) -> dict[str, torch.Tensor]:
        found = {"image": self.pixels}
        if self.labels is not None:
            found[LABEL] = self.labels
        return found


def to_unit(pixels: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) uint8 -> float in [-1, 1]."""
    return pixels.float() / 127.5 - 1.0


def to_pixels(images: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) float in [-1, 1] -> uint8."""
    return ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def read_splits(config, base: Path) -> dict[str, pd.DataFrame]:
    """{split: rows} of data.train (cut by `split.validation` without a validation file),
    data.validation and data.test, each with the image column (absolute paths)."""
    data = config.data
    tables = {
        name: _read(_resolve(base, getattr(data, name)), data, name)
        for name in SPLITS
        if getattr(data, name) is not None
    }
    if "validation" not in tables and config.split.validation > 0:
        train = tables["train"]
        order = np.random.default_rng(config.split.seed).permutation(len(train))
        held = int(round(config.split.validation * len(train)))
        if held == 0 or held == len(train):
            raise UserError(
                f"data.train has {len(train)} images: too few to hold out split.validation "
                f"{config.split.validation}; give more images, a data.validation file or split.validation: 0"
            )
        tables["validation"] = train.iloc[np.sort(order[:held])]
        tables["train"] = train.iloc[np.sort(order[held:])]
    return tables


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _read(path: Path, data, split: str) -> pd.DataFrame:
    from modelyard.data.read import read_data

    condition = data.condition or LABEL
    frame = read_data(path, [data.image], [condition])
    wanted = [data.image] + ([data.condition] if data.condition else [])
    for column in wanted:
        if column not in frame.columns:
            from modelyard.data.columns import column_hint

            key = "data.image" if column == data.image else "data.condition"
            raise UserError(
                f"data.{split} '{path}' has no column '{column}' ({key}){column_hint(column, list(frame.columns))}"
            )
    return frame.reset_index(drop=True)


def class_names(train: pd.DataFrame, condition: str | None) -> list[str]:
    """The sorted class names of the training rows ([] without a condition column)."""
    if condition is None:
        return []
    from modelyard.data.features.base import texts_of

    texts = texts_of(train[condition])
    if any(t is None for t in texts):
        row = int(np.flatnonzero([t is None for t in texts])[0]) + 1
        raise UserError(
            f"data.train row {row}: no class in column '{condition}' (data.condition); fill it in"
        )
    return sorted(set(texts))


def image_feature(config, state: dict[str, Any] | None = None):
    """The image preprocessor (data/features/image.ImageFeature) for `config.images`;
    `state`: a saved one's (height, width, channels)."""
    from modelyard.config.schema.inputs import ImageInput, ImagePreprocessing
    from modelyard.data.features.image import ImageFeature

    im = config.images
    prep = ImagePreprocessing(
        height=im.height, width=im.width, color=im.color, normalization="scale"
    )
    feature = ImageFeature(
        ImageInput(name="image", type="image", column=config.data.image, preprocessing=prep)
    )
    if state is not None:
        feature.load_state(state)
    return feature


def decode(
    frame: pd.DataFrame, feature, condition: str | None, classes: list[str], split: str
) -> Images:
    """The rows' pixels and class indices; an unknown class names its row."""
    from modelyard.data.features.base import texts_of

    pixels = feature.transform(frame[feature.column])
    if condition is None:
        return Images(pixels, None)
    index = {name: i for i, name in enumerate(classes)}
    texts = texts_of(frame[condition])
    unknown = [i for i, t in enumerate(texts) if t not in index]
    if unknown:
        raise UserError(
            f"data.{split} row {unknown[0] + 1}: class '{texts[unknown[0]]}' (column '{condition}') "
            f"is not among the training classes ({', '.join(classes)})"
        )
    return Images(pixels, torch.tensor([index[t] for t in texts], dtype=torch.long))
