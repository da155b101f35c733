"""Mask outputs: a class per pixel, read from 8-bit mask images (value 0 background, k + 1 the
k-th class), checked against their image (same size, known values)."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import pandas as pd
import torch

from modelyard.data.features.base import Feature, map_files, row_label
from modelyard.errors import UserError

IGNORE = 255  # the stored value of ignored pixels (an output's `ignore` value is mapped to it)


class MaskFeature(Feature):
    """(N, H, W) uint8 class per pixel, at the image input's (resized) size: 0 background,
    k + 1 the k-th class; ignored pixels (the output's `ignore` value) are 255.

    `attach` links the one image input; `column_of(frame)` also keeps that frame's image
    paths, so that `transform` can check each mask against its image's size (the rows of
    the last frame asked for, the same rows `Preprocessing.prepare` transforms next)."""

    type = "mask"
    image: Any = None
    _images: pd.Series | None = None

    def attach(self, inputs: list[Feature]) -> None:
        images = [f for f in inputs if f.type == "image"]
        if len(images) != 1:  # the config check says so first
            raise UserError(f"output '{self.name}' (mask) needs exactly one image input")
        self.image = images[0]

    def column_of(self, frame: pd.DataFrame) -> pd.Series:
        series = super().column_of(frame)
        if self.image is not None and self.image.column in frame.columns:
            self._images = frame[self.image.column]
        return series

    def fit(self, series: pd.Series) -> None:
        names = list(self.config.classes)
        self.classes = [self.config.background, *names]
        if len(set(self.classes)) != len(self.classes):
            raise UserError(
                f"output '{self.name}': class names repeat ({', '.join(self.classes)}, "
                f"the first being `background`); give each class once"
            )
        if len(self.classes) > IGNORE:
            raise UserError(f"output '{self.name}': at most {IGNORE - 1} classes fit 8-bit masks")
        self.note(f"{len(self.classes)} classes per pixel, background '{self.classes[0]}'")

    def transform(self, series: pd.Series) -> torch.Tensor:
        """(N, H, W) uint8. A missing or unreadable file, a mask whose size differs from its
        image's, or a value that is no class is the user's error, naming file and row."""
        images = self._images
        if images is None or not images.index.equals(series.index):
            raise RuntimeError(f"output '{self.name}': column_of was not asked for these rows")
        jobs = [
            (str(m), str(i), row_label(series, n))
            for n, (m, i) in enumerate(zip(series, images, strict=True))
        ]
        return torch.from_numpy(np.stack(map_files(self._load, jobs)))

    def _load(self, path: str, image_path: str, row: str) -> np.ndarray:
        from PIL import Image

        mask = _open(path, self.column, row)
        if mask.mode not in ("L", "P", "I", "I;16", "1"):
            raise UserError(
                f"column '{self.column}' {row}: mask '{path}' has mode {mask.mode}; a mask is one "
                "channel of class numbers (8-bit grayscale or palette PNG)"
            )
        size = _image_size(image_path)
        if size is not None and mask.size != size:
            raise UserError(
                f"column '{self.column}' {row}: mask '{path}' is {mask.size[0]}x{mask.size[1]} "
                f"but its image '{image_path}' is {size[0]}x{size[1]}; give each image a mask of its size"
            )
        values = np.asarray(mask, dtype=np.int64)
        self._check_values(values, path, row)
        values = np.where(values == self.config.ignore, IGNORE, values).astype(np.uint8)
        shape = (self.image.width, self.image.height)
        if mask.size != shape:
            values = np.asarray(Image.fromarray(values).resize(shape, Image.Resampling.NEAREST))
        return values

    def _check_values(self, values: np.ndarray, path: str, row: str) -> None:
        known = (values < len(self.classes)) | (values == self.config.ignore)
        if not known.all():
            bad = int(values[~known][0])
            ignore = f", or the ignore value {self.config.ignore}" if self.config.ignore else ""
            raise UserError(
                f"column '{self.column}' {row}: mask '{path}' has the value {bad}, which is no class: "
                f"values are 0 ({self.classes[0]}) to {len(self.classes) - 1} "
                f"({self.classes[-1]}){ignore}; fix the mask or add the class to `classes`"
            )

    def encode(self, predicted: torch.Tensor) -> list[str]:
        """(N, H, W) class indices -> N PNG images (8-bit, class per pixel), base64 text."""
        from PIL import Image

        rows = []
        for mask in predicted.to(torch.uint8).numpy():
            buffer = io.BytesIO()
            Image.fromarray(mask, mode="L").save(buffer, format="PNG")
            rows.append(base64.b64encode(buffer.getvalue()).decode("ascii"))
        return rows

    def state(self) -> dict[str, Any]:
        return {"classes": self.classes}

    def load_state(self, state: dict[str, Any]) -> None:
        self.classes = state["classes"]


def decode_mask(text: str) -> np.ndarray:
    """A predicted mask (base64 PNG text, as `predict` and `serve` give it) -> (H, W) uint8."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(text))))


def _image_size(path: str) -> tuple[int, int] | None:
    """(width, height) of an image file from its header, or None when it cannot be read (the
    image input reports that itself)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, ValueError):
        return None


def _open(path: str, column: str, row: str):
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(path)
        image.load()
        return image
    except FileNotFoundError:
        raise UserError(f"column '{column}' {row}: mask file '{path}' does not exist") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise UserError(
            f"column '{column}' {row}: mask file '{path}' cannot be read ({e}); replace or remove the row"
        ) from None
