"""One preprocessor per feature type, and `Preprocessing`, which applies them to a table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from modelyard.config.schema import Config
from modelyard.data.columns import require_unique_columns
from modelyard.data.features.audio import AudioFeature
from modelyard.data.features.base import Feature, is_missing, row_label
from modelyard.data.features.image import ImageFeature
from modelyard.data.features.tabular import BinaryFeature, CategoryFeature, NumberFeature
from modelyard.data.features.tags import TagsFeature
from modelyard.data.features.text import TextFeature
from modelyard.data.features.text_target import TextTargetFeature
from modelyard.errors import UserError
from modelyard.registry import Registry

FEATURES: Registry[type[Feature]] = Registry("feature type")
for _cls in (
    NumberFeature,
    CategoryFeature,
    BinaryFeature,
    TextFeature,
    ImageFeature,
    AudioFeature,
):
    FEATURES.register(_cls.type)(_cls)

# Outputs whose preprocessing differs from the input of the same type; consulted first for outputs.
OUTPUT_FEATURES: Registry[type[Feature]] = Registry("output feature type")
OUTPUT_FEATURES.register(TextTargetFeature.type)(TextTargetFeature)
OUTPUT_FEATURES.register(TagsFeature.type)(TagsFeature)


def _output_feature(type_: str) -> type[Feature]:
    return OUTPUT_FEATURES.get(type_) if type_ in OUTPUT_FEATURES else FEATURES.get(type_)


@dataclass
class Table:
    """Tensors for a split: `tensors[name]` has N rows; `frame` holds the N source rows kept."""

    tensors: dict[str, torch.Tensor]
    frame: pd.DataFrame

    def __len__(self) -> int:
        return len(self.frame)


class Preprocessing:
    """Fits every feature's preprocessor on the training split; applies them unchanged to any data."""

    def __init__(self, config: Config, sources: dict[str, Path] | None = None):
        """`sources`: pretrained checkpoint (or saved tokenizer) directory per text input name."""
        self.config = config
        self.inputs = [FEATURES.get(f.type)(f, is_output=False) for f in config.inputs]
        self.outputs = [_output_feature(f.type)(f, is_output=True) for f in config.outputs]
        for feature in self.inputs:
            if sources and feature.name in sources:
                feature.source = sources[feature.name]
        for output in self.outputs:
            output.attach(self.inputs)
        self.notes: list[str] = []

    @property
    def features(self) -> list[Feature]:
        return self.inputs + self.outputs

    def fit(self, train: pd.DataFrame) -> None:
        train = self._drop_rows(train, "train", labels=True, training=True)
        for feature in self.features:
            feature.fit(train[feature.column])

    def prepare(self, frame: pd.DataFrame, split: str, labels: bool = True) -> Table:
        """Tensors for `frame`. `labels=False` (predict) needs inputs only and drops no rows."""
        frame = self._drop_rows(frame, split, labels=labels, training=labels)
        features = self.features if labels else self.inputs
        tensors = {}
        for feature in features:
            feature.notes = []
            tensors[feature.name] = feature.transform(feature.column_of(frame))
            self.notes += [f"{split}: {n}" for n in feature.notes]
        return Table(tensors, frame)

    def _drop_rows(
        self, frame: pd.DataFrame, split: str, labels: bool, training: bool
    ) -> pd.DataFrame:
        require_unique_columns(frame)
        keep = np.ones(len(frame), dtype=bool)
        for feature in self.inputs + (self.outputs if labels else []):
            series = feature.column_of(frame)
            if feature.is_output:
                keep &= ~self._missing_labels(feature, series, split)
            elif feature.drops_missing(training):
                missing = is_missing(series)
                if missing.any():
                    self.notes.append(
                        f"{split}: dropped {int(missing.sum())} rows missing '{feature.column}'"
                    )
                keep &= ~missing
        if not keep.any():
            raise UserError(
                f"{split} data: no rows left after dropping rows with missing values (or with classes not seen in training)"
            )
        return frame[keep]

    def _missing_labels(self, feature: Feature, series: pd.Series, split: str) -> np.ndarray:
        missing = is_missing(series)
        if (
            feature.type == "text"
        ):  # a pair without its target text is broken: the feature says which row
            return np.zeros(len(series), dtype=bool)
        if missing.any() and self.config.data.missing_labels == "error":
            position = int(np.flatnonzero(missing)[0])
            raise UserError(
                f"{split} data {row_label(series, position)}: label '{feature.column}' is missing ({int(missing.sum())} rows); fill them in or set data.missing_labels: drop"
            )
        if missing.any():
            self.notes.append(
                f"{split}: dropped {int(missing.sum())} rows with no '{feature.column}' label"
            )
        if isinstance(feature, CategoryFeature | TagsFeature) and hasattr(feature, "vocab"):
            unseen = feature.unseen_rows(series) & ~missing
            if unseen.any():
                what = (
                    f"with a '{feature.column}' tag that was"
                    if isinstance(feature, TagsFeature)
                    else f"whose '{feature.column}' class was"
                )
                self.notes.append(
                    f"{split}: dropped {int(unseen.sum())} rows {what} not in the training data"
                )
                missing = missing | unseen
        return missing

    def state(self) -> dict[str, Any]:
        return {f.name: f.state() for f in self.features}

    def load_state(self, state: dict[str, Any]) -> None:
        for feature in self.features:
            feature.load_state(state[feature.name])
