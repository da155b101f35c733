"""One preprocessor per feature type, and `Preprocessing`, which applies them to a table."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from modelyard.config.schema import Config
from modelyard.data.columns import require_unique_columns
from modelyard.data.features.audio import AudioFeature
from modelyard.data.features.base import Feature, is_missing, parts, row_label
from modelyard.data.features.image import ImageFeature
from modelyard.data.features.tabular import BinaryFeature, CategoryFeature, NumberFeature
from modelyard.data.features.text import TextFeature
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
# An output's preprocessor is its task's (modelyard.tasks): `task_of(output).feature`.


@dataclass
class Table:
    """Tensors for a split: `tensors[name]` has N rows; `frame` holds the N source rows kept
    (evaluation reads raw reference texts and tags from it); `left_out`: {reason: rows} of the
    source rows that were not kept; `lazy`: the file inputs (image, audio) left undecoded, not
    in `tensors` (data/files.py decodes them batch by batch from `frame`); `filled`: {column:
    `Feature.filled`} of the inputs whose missing values were filled in."""

    tensors: dict[str, torch.Tensor]
    frame: pd.DataFrame
    left_out: dict[str, int] = field(default_factory=dict)
    lazy: list[Feature] = field(default_factory=list)
    filled: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frame)


class Preprocessing:
    """Fits every feature's preprocessor on the training split; applies them unchanged to any data."""

    def __init__(self, config: Config, sources: dict[str, Path] | None = None):
        """`sources`: pretrained checkpoint (or saved tokenizer) directory per text input name."""
        self.config = config
        self.inputs = [FEATURES.get(f.type).variant(f)(f, is_output=False) for f in config.inputs]
        from modelyard.tasks import task_of

        self.outputs = [task_of(f).feature(f, is_output=True) for f in config.outputs]
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
        """Fit every feature on the training rows kept, seen in parts (`base.FIT_ROWS`) as a
        streamed fit sees them (data/stream.py), so both give the same state."""
        train, _ = self._drop_rows(train, "train", labels=True, training=True)
        self.start_fit()
        for part in parts(train):
            self.fit_part(part)
        self.end_fit(lambda: parts(train))

    def start_fit(self) -> None:
        for feature in self.features:
            feature.start_fit()

    def fit_part(self, kept: pd.DataFrame) -> None:
        """Training rows already kept (`kept_rows`), in order, `FIT_ROWS` at a time."""
        for feature in self.features:
            feature.fit_part(kept[feature.column])

    def end_fit(self, again) -> None:
        """`again()`: the kept training rows once more, part by part (DataFrames), for the
        features that learn from an iterator (`Feature.trains_from_iterator`: tokenizers)."""
        for feature in self.features:
            if feature.trains_from_iterator:
                feature.end_fit_from(lambda f=feature: (part[f.column] for part in again()))
            else:
                feature.end_fit()

    def kept_rows(self, frame: pd.DataFrame, split: str) -> tuple[pd.DataFrame, dict[str, int]]:
        """The rows of `frame` that training on split `split` keeps (missing labels, and
        inputs with `missing: drop`), and {reason: count} of those left out; no error when
        none is kept (a streamed part may hold none)."""
        return self._drop_rows(frame, split, labels=True, training=True, empty_ok=True)

    def prepare(
        self,
        frame: pd.DataFrame,
        split: str,
        labels: bool = True,
        training: bool | None = None,
        lazy_files: bool = False,
    ) -> Table:
        """Tensors for `frame`. `labels=False` (predict) needs inputs only and drops no rows.
        `training` (default: split "train"): inputs with `missing: drop` drop their rows;
        elsewhere they are filled as in prediction. Rows without any label are left out (or an
        error, per data.missing_labels); a label of a class never seen in training is kept,
        and counts as an error (see `evaluate.score`). `lazy_files`: image and audio inputs
        are not decoded (`Table.lazy`; data/files.py)."""
        training = split == "train" if training is None else training
        frame, left_out = self._drop_rows(frame, split, labels=labels, training=training)
        features = self.features if labels else self.inputs
        lazy = [f for f in self.inputs if f.from_file] if lazy_files else []
        tensors, filled = {}, {}
        for feature in features:
            if feature in lazy:
                continue
            feature.notes, feature.filled = [], None
            tensors[feature.name] = feature.transform(feature.column_of(frame))
            self.notes += [f"{split}: {n}" for n in feature.notes]
            if feature.filled:
                filled[feature.column] = feature.filled
        return Table(tensors, frame, left_out, lazy, filled)

    def _drop_rows(
        self, frame: pd.DataFrame, split: str, labels: bool, training: bool, empty_ok: bool = False
    ) -> tuple[pd.DataFrame, dict[str, int]]:
        """The rows kept, and {reason: count} of those left out. With several outputs, a row
        missing some labels is kept (each output skips it where its label is missing)."""
        require_unique_columns(frame)
        keep = np.ones(len(frame), dtype=bool)
        left_out: dict[str, int] = {}
        for feature in self.inputs:
            series = feature.column_of(frame)  # a missing column is named here, first
            if labels and feature.drops_missing(training):
                missing = is_missing(series) & keep
                if missing.any():
                    reason = f"missing '{feature.column}'"
                    left_out[reason] = int(missing.sum())
                    self.notes.append(f"{split}: dropped {left_out[reason]} rows {reason}")
                keep &= ~missing
        if labels and self.outputs:
            unlabelled = np.ones(len(frame), dtype=bool)
            for feature in self.outputs:
                unlabelled &= self._missing_labels(feature, feature.column_of(frame), split)
            unlabelled &= keep
            if unlabelled.any():
                reason = (
                    f"no '{self.outputs[0].column}' label"
                    if len(self.outputs) == 1
                    else "no label for any output"
                )
                left_out[reason] = int(unlabelled.sum())
                self.notes.append(f"{split}: dropped {left_out[reason]} rows with {reason}")
            keep &= ~unlabelled
        if not keep.any() and not empty_ok:
            raise UserError(f"{split} data: no rows left after dropping rows with missing values")
        return frame[keep], left_out

    def _missing_labels(self, feature: Feature, series: pd.Series, split: str) -> np.ndarray:
        """(N,) bool: rows without this output's label (an error with missing_labels: error)."""
        from modelyard.tasks import task_of

        if not task_of(feature).labels_may_be_missing:  # its feature refuses such rows itself
            return np.zeros(len(series), dtype=bool)
        missing = is_missing(series)
        if missing.any() and self.config.data.missing_labels == "error":
            position = int(np.flatnonzero(missing)[0])
            raise UserError(
                f"{split} data {row_label(series, position)}: label '{feature.column}' is missing ({int(missing.sum())} rows); fill them in or set data.missing_labels: drop"
            )
        if missing.any() and len(self.outputs) > 1:
            self.notes.append(
                f"{split}: {int(missing.sum())} rows have no '{feature.column}' label; "
                f"'{feature.name}' skips them"
            )
        return missing

    def state(self) -> dict[str, Any]:
        return {f.name: f.state() for f in self.features}

    def load_state(self, state: dict[str, Any]) -> None:
        for feature in self.features:
            feature.load_state(state[feature.name])
