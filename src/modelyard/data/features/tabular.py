"""Number, category and binary features (inputs and outputs)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import torch

from modelyard.data.features.base import Feature, as_text, is_missing, parse_numbers, row_label
from modelyard.errors import UserError

UNKNOWN = "<unknown>"
MISSING_LABEL = -100  # a category output's missing label (cross_entropy's ignore_index)
UNSEEN_BINARY = 2.0  # a binary output's label that is neither of its two values
TRUE_WORDS = {"true", "1", "yes", "y", "t"}


class NumberFeature(Feature):
    """Inputs: fill/drop missing, then standard / min-max / no scaling. Outputs: optional standardising."""

    type = "number"

    def fit(self, series: pd.Series) -> None:
        values = parse_numbers(series, self.column)
        present = values[~np.isnan(values)]
        if len(present) == 0:
            raise UserError(f"column '{self.column}' has no numbers in the training data")
        self.fill = self._fill_value(present)
        scaling = (
            self.config.normalization if self.is_output else self.config.preprocessing.normalization
        )
        if scaling == "standard":
            self.shift, self.scale = float(present.mean()), float(present.std() or 1.0)
        elif scaling == "minmax":
            self.shift, self.scale = (
                float(present.min()),
                float((present.max() - present.min()) or 1.0),
            )
        else:
            self.shift, self.scale = 0.0, 1.0

    def _fill_value(self, present: np.ndarray) -> float:
        if self.is_output:
            return float("nan")
        policy = self.config.preprocessing.missing
        if policy == "fill_median":
            return float(np.median(present))
        if policy == "fill_value":
            return float(self.config.preprocessing.fill_value)
        return float(present.mean())

    def transform(self, series: pd.Series) -> torch.Tensor:
        """(N,) float32, scaled."""
        values = parse_numbers(series, self.column)
        missing = np.isnan(values)
        if missing.any():
            self.note(f"filled {int(missing.sum())} missing values with {self.fill:.6g}")
            values = np.where(missing, self.fill, values)
        with np.errstate(over="ignore"):  # overflow is reported below, naming the row
            scaled = (values - self.shift) / self.scale
        too_large = np.flatnonzero(np.abs(scaled) > np.finfo(np.float32).max)
        if len(too_large):
            row = row_label(series, int(too_large[0]))
            raise UserError(
                f"column '{self.column}' {row}: {series.iloc[too_large[0]]} is too large for the model (float32); fix the value"
            )
        return torch.from_numpy(scaled.astype(np.float32))

    def decode(self, values: torch.Tensor) -> np.ndarray:
        """Model outputs (N,) back to the column's units."""
        return values.double().numpy() * self.scale + self.shift

    def state(self) -> dict[str, Any]:
        return {"fill": self.fill, "shift": self.shift, "scale": self.scale}

    def load_state(self, state: dict[str, Any]) -> None:
        self.fill, self.shift, self.scale = state["fill"], state["shift"], state["scale"]


class CategoryFeature(Feature):
    """A vocabulary fitted on training values; index 0 is the unknown category for inputs."""

    type = "category"

    def fit(self, series: pd.Series) -> None:
        missing = is_missing(series)
        counts = Counter(as_text(v) for v in series[~missing])
        if not counts:
            raise UserError(f"column '{self.column}' has no values in the training data")
        self.mode = counts.most_common(1)[0][0]
        if self.is_output:
            self.vocab = sorted(counts)
            if len(self.vocab) < 2:
                raise UserError(
                    f"output '{self.name}': the training data has one class only ('{self.vocab[0]}'); a classifier needs at least two"
                )
            return
        prep = self.config.preprocessing
        kept = [
            v
            for v, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            if c >= prep.min_count
        ]
        self.vocab = [UNKNOWN] + kept[: prep.max_size]

    def transform(self, series: pd.Series) -> torch.Tensor:
        """(N,) int64 indices into `vocab`."""
        index = {v: i for i, v in enumerate(self.vocab)}
        missing = is_missing(series)
        texts = [as_text(v) for v in series]
        if not self.is_output and missing.any():
            fill = {"fill_mode": self.mode, "fill_value": self.config.preprocessing.fill_value}.get(
                self.config.preprocessing.missing, UNKNOWN
            )
            texts = [fill if m else t for t, m in zip(texts, missing, strict=True)]
            self.note(f"filled {int(missing.sum())} missing values with '{fill}'")
        codes = np.array([index.get(t, -1) for t in texts], dtype=np.int64)
        unknown = codes < 0
        if self.is_output:
            return torch.from_numpy(self._label_codes(codes, texts, missing))
        if unknown.any():
            codes[unknown] = 0
            self.note(
                f"{int(unknown.sum())} values not seen in training (e.g. '{texts[int(np.flatnonzero(unknown)[0])]}') mapped to unknown"
            )
        return torch.from_numpy(codes)

    def _label_codes(self, codes: np.ndarray, texts: list[str], missing: np.ndarray) -> np.ndarray:
        """Labels: a missing one is MISSING_LABEL (the loss skips it); a class never seen in
        training gets an index from len(vocab) on, one per such class (sorted), which no
        prediction can match: evaluation counts it as an error."""
        unseen = (codes < 0) & ~missing
        extra = sorted({t for t, u in zip(texts, unseen, strict=True) if u})
        if extra:
            lookup = {t: len(self.vocab) + i for i, t in enumerate(extra)}
            codes[unseen] = [lookup[t] for t, u in zip(texts, unseen, strict=True) if u]
            self.note(
                f"{int(unseen.sum())} rows of classes not in the training data (e.g. '{extra[0]}') count as errors"
            )
        codes[missing] = MISSING_LABEL
        return codes

    def state(self) -> dict[str, Any]:
        return {"vocab": self.vocab, "mode": self.mode}

    def load_state(self, state: dict[str, Any]) -> None:
        self.vocab, self.mode = state["vocab"], state["mode"]


class BinaryFeature(Feature):
    """Two values mapped to 0/1: `positive` from the config, else true/yes/1, else the later in sort order."""

    type = "binary"

    def fit(self, series: pd.Series) -> None:
        missing = is_missing(series)
        values = sorted({as_text(v) for v in series[~missing]})
        if len(values) > 2:
            raise UserError(
                f"column '{self.column}' has {len(values)} different values ({', '.join(values[:5])}, ...); a binary feature has two: use type: category"
            )
        if not values:
            raise UserError(f"column '{self.column}' has no values in the training data")
        positive = self.config.positive if self.is_output else self.config.preprocessing.positive
        if positive is None:
            truthy = [v for v in values if v.lower() in TRUE_WORDS]
            positive = truthy[0] if truthy else values[-1]
        if positive not in values and len(values) == 2:
            raise UserError(
                f"column '{self.column}': positive value '{positive}' is not one of {values}"
            )
        negative = [v for v in values if v != positive]
        self.values = [negative[0] if negative else _opposite(positive), positive]
        self.mode = Counter(as_text(v) for v in series[~missing]).most_common(1)[0][0]

    def transform(self, series: pd.Series) -> torch.Tensor:
        """(N,) float32 in {0, 1}."""
        missing = is_missing(series)
        texts = [as_text(v) for v in series]
        if not self.is_output and missing.any():
            prep = self.config.preprocessing
            fill = self.mode if prep.missing == "fill_mode" else self.values[int(prep.fill_value)]
            texts = [fill if m else t for t, m in zip(texts, missing, strict=True)]
            self.note(f"filled {int(missing.sum())} missing values with '{fill}'")
        lookup = {self.values[0].lower(): 0.0, self.values[1].lower(): 1.0}
        out = np.array([lookup.get(t.lower(), np.nan) for t in texts], dtype=np.float32)
        if self.is_output:
            return torch.from_numpy(self._label_values(out, texts, missing))
        bad = np.flatnonzero(np.isnan(out))
        if len(bad):
            raise UserError(
                f"column '{self.column}' {row_label(series, int(bad[0]))}: '{texts[bad[0]]}' is neither '{self.values[0]}' nor '{self.values[1]}'"
            )
        return torch.from_numpy(out)

    def _label_values(self, out: np.ndarray, texts: list[str], missing: np.ndarray) -> np.ndarray:
        """Labels: a missing one stays NaN (the loss skips it); any value other than the two
        is UNSEEN_BINARY, which no prediction can match: evaluation counts it as an error."""
        unseen = np.isnan(out) & ~missing
        if unseen.any():
            out[unseen] = UNSEEN_BINARY
            example = texts[int(np.flatnonzero(unseen)[0])]
            self.note(
                f"{int(unseen.sum())} rows whose label is neither '{self.values[0]}' nor '{self.values[1]}' (e.g. '{example}') count as errors"
            )
        return out

    def state(self) -> dict[str, Any]:
        return {"values": self.values, "mode": self.mode}

    def load_state(self, state: dict[str, Any]) -> None:
        self.values, self.mode = state["values"], state["mode"]


def _opposite(value: str) -> str:
    pairs = {"true": "false", "1": "0", "yes": "no", "y": "n", "t": "f"}
    return pairs.get(value.lower(), f"not {value}")
