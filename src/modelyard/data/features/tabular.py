"""Number, category and binary features (inputs and outputs)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import torch

from modelyard.data.features.base import (
    Feature,
    Moments,
    TextCounts,
    as_text,
    distinct_texts,
    fit_in_parts,
    parse_numbers,
    row_label,
    texts_of,
)
from modelyard.errors import UserError

UNKNOWN = "<unknown>"
MISSING_LABEL = -100  # a category output's missing label (cross_entropy's ignore_index)
UNSEEN_BINARY = 2.0  # a binary output's label that is neither of its two values
TRUE_WORDS = {"true", "1", "yes", "y", "t"}
FALSE_WORDS = {"false", "0", "no", "n", "f"}


class NumberFeature(Feature):
    """Inputs: fill/drop missing, then standard / min-max / no scaling. Outputs: optional standardising."""

    type = "number"
    request_type = float

    def parse_form_field(self, text: str) -> Any:
        """A number; a blank field stays as it is (a missing value)."""
        if not text.strip():
            return text
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"'{text}' is not a number") from None

    def example_tensor(self, rows: int, generator: torch.Generator) -> torch.Tensor:
        """(rows,) float32 from a standard normal: scaled values."""
        return torch.randn(rows, generator=generator)

    def fit(self, series: pd.Series) -> None:
        fit_in_parts(self, series)

    def start_fit(self) -> None:
        self._moments = Moments()
        median = not self.is_output and self.config.preprocessing.missing == "fill_median"
        self._values: list[np.ndarray] | None = [] if median else None  # a median needs them

    def fit_part(self, series: pd.Series) -> None:
        values = parse_numbers(series, self.column)
        present = values[~np.isnan(values)]
        self._moments.add(present)
        if self._values is not None:
            self._values.append(present)

    def end_fit(self) -> None:
        moments, values = self._moments, self._values
        self._values = None
        if moments.count == 0:
            raise UserError(f"column '{self.column}' has no numbers in the training data")
        self.fill = self._fill_value(moments, values)
        self.rows = moments.count
        scaling = (
            self.config.normalization if self.is_output else self.config.preprocessing.normalization
        )
        if scaling == "standard":
            self.shift, self.scale = moments.mean, moments.std or 1.0
        elif scaling == "minmax":
            self.shift, self.scale = moments.low, (moments.high - moments.low) or 1.0
        else:
            self.shift, self.scale = 0.0, 1.0

    def _fill_value(self, moments: Moments, values: list[np.ndarray] | None) -> float:
        if self.is_output:
            return float("nan")
        policy = self.config.preprocessing.missing
        if policy == "fill_median":
            return float(np.median(np.concatenate(values)))
        if policy == "fill_value":
            return float(self.config.preprocessing.fill_value)
        return moments.mean

    def transform(self, series: pd.Series) -> torch.Tensor:
        """(N,) float32, scaled."""
        values = parse_numbers(series, self.column)
        missing = np.isnan(values)
        if missing.any():
            self.note(f"filled {int(missing.sum())} missing values with {self.fill:.6g}")
            if not self.is_output:  # an output's missing labels stay NaN: the loss skips them
                how = {"fill_median": "median", "fill_value": "value"}
                policy = self.config.preprocessing.missing
                self.record_filled(int(missing.sum()), how.get(policy, "mean"), self.fill)
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
        return {"fill": self.fill, "shift": self.shift, "scale": self.scale, "rows": self.rows}

    def load_state(self, state: dict[str, Any]) -> None:
        """`fill` is null in preprocessing.json (strict JSON) where it is NaN (an output's)."""
        fill = float("nan") if state["fill"] is None else state["fill"]
        self.fill, self.shift, self.scale = fill, state["shift"], state["scale"]
        self.rows = state.get("rows", 0)  # runs saved before it was recorded: 0


class _CountedFeature(Feature):
    """Fitted on how often each value occurs (categories, binary values), merged over parts.
    An output's `class_weights`: (C,) loss weights of its classes, or None (no weighting)."""

    class_weights: list[float] | None = None

    def fit(self, series: pd.Series) -> None:
        fit_in_parts(self, series)

    def start_fit(self) -> None:
        self._counts = TextCounts()

    def fit_part(self, series: pd.Series) -> None:
        self._counts.add(series)


class CategoryFeature(_CountedFeature):
    """A vocabulary fitted on training values; index 0 is the unknown category for inputs."""

    type = "category"
    request_type = str | int | float | bool
    explain_kind = "category"
    export_preprocessing = "index into the vocabulary in preprocessing.json (0 = unknown)"

    def check_request_value(self, value: Any) -> None:
        """A number or boolean is a category only where the training values were numbers (or
        true/false): `6` for a category of words is a mistake, not an unseen category."""
        if isinstance(value, str):
            return
        known = [v for v in self.vocab if v != UNKNOWN]
        if as_text(value) in known:
            return
        if not isinstance(value, bool) and all(_is_number(v) for v in known):
            return  # an unseen number of a numeric category: mapped to unknown, as documented
        examples = ", ".join(f"'{v}'" for v in known[:3])
        raise ValueError(
            f"{json.dumps(value)} is not one of the categories of '{self.name}' ({examples}, ...); send one of them as a string"
        )

    def example_tensor(self, rows: int, generator: torch.Generator) -> torch.Tensor:
        """(rows,) int64 indices into the vocabulary."""
        return torch.randint(0, len(self.vocab), (rows,), generator=generator)

    def end_fit(self) -> None:
        counts = self._counts.counts()
        if not len(counts):
            raise UserError(f"column '{self.column}' has no values in the training data")
        self.mode = str(counts.idxmax())  # the first of the most frequent, as Counter would
        if self.is_output:
            self.kind = self._counts.kind()
            self.vocab = sorted(counts.index)
            if len(self.vocab) < 2:
                raise UserError(
                    f"output '{self.name}': the training data has one class only ('{self.vocab[0]}'); a classifier needs at least two"
                )
            self.class_weights = fitted_class_weights(self.config, self.vocab, counts)
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
        index = pd.Index(self.vocab, dtype=object)
        codes, texts = distinct_texts(series)
        missing = codes < 0
        fill = UNKNOWN
        if not self.is_output and missing.any():
            fill = {"fill_mode": self.mode, "fill_value": self.config.preprocessing.fill_value}.get(
                self.config.preprocessing.missing, UNKNOWN
            )
            self.note(f"filled {int(missing.sum())} missing values with '{fill}'")
            how = {"fill_mode": "mode", "fill_value": "value"}
            self.record_filled(
                int(missing.sum()), how.get(self.config.preprocessing.missing, "unknown"), fill
            )
        # the vocabulary index of each distinct text, and last of the filled value
        lookup = index.get_indexer(np.append(texts, fill).astype(object))
        row_texts = np.append(texts, fill)[codes]
        codes = lookup[codes]
        unknown = codes < 0
        if self.is_output:
            return torch.from_numpy(self._label_codes(codes.astype(np.int64), row_texts, missing))
        if unknown.any():
            codes[unknown] = 0
            first = int(np.flatnonzero(unknown)[0])
            example = texts_of(series.iloc[[first]])[0] or fill
            self.note(
                f"{int(unknown.sum())} values not seen in training (e.g. '{example}') mapped to unknown"
            )
        return torch.from_numpy(codes.astype(np.int64))

    def _label_codes(
        self, codes: np.ndarray, row_texts: np.ndarray, missing: np.ndarray
    ) -> np.ndarray:
        """Labels: a missing one is MISSING_LABEL (the loss skips it); a class never seen in
        training gets an index from len(vocab) on, one per such class (sorted), which no
        prediction can match: evaluation counts it as an error."""
        unseen = (codes < 0) & ~missing
        if unseen.any():
            extra, which = np.unique(row_texts[unseen].astype(str), return_inverse=True)
            codes[unseen] = len(self.vocab) + which
            self.note(
                f"{int(unseen.sum())} rows of classes not in the training data (e.g. '{extra[0]}') count as errors"
            )
        codes[missing] = MISSING_LABEL
        return codes

    def labels(self, chosen: np.ndarray) -> np.ndarray:
        """(N,) class indices to labels of the training column's type (ints, bools, strings)."""
        return typed_values(self.vocab, self.kind)[chosen]

    def state(self) -> dict[str, Any]:
        kind = {"kind": self.kind} if self.is_output else {}
        return {"vocab": self.vocab, "mode": self.mode, **kind, **_weights_state(self)}

    def load_state(self, state: dict[str, Any]) -> None:
        self.vocab, self.mode = state["vocab"], state["mode"]
        self.kind = state.get("kind", "str")  # saved before kinds were recorded: strings
        self.class_weights = state.get("class_weights")


class BinaryFeature(_CountedFeature):
    """Two values mapped to 0/1: `positive` from the config, else true/yes/1, else the later in
    sort order. When the two values are a true/false pair (true/false, 1/0, yes/no, t/f, y/n),
    any of those forms is accepted at transform time (a model trained on 1/0 takes True/False)."""

    type = "binary"
    request_type = str | int | float | bool

    def example_tensor(self, rows: int, generator: torch.Generator) -> torch.Tensor:
        """(rows,) float32 from a standard normal (the model takes any float)."""
        return torch.randn(rows, generator=generator)

    def end_fit(self) -> None:
        counts = self._counts.counts()
        values = sorted(counts.index)
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
        self.mode = str(counts.idxmax())
        if self.is_output:
            self.kind = self._counts.kind()
            counts = counts.groupby(lambda v: self._value_of(v)).sum()
            self.class_weights = fitted_class_weights(
                self.config, self.values, counts, self._value_of
            )

    def transform(self, series: pd.Series) -> torch.Tensor:
        """(N,) float32 in {0, 1}."""
        codes, texts = distinct_texts(series)
        missing = codes < 0
        fill = ""
        if not self.is_output and missing.any():
            prep = self.config.preprocessing
            fill = self.mode if prep.missing == "fill_mode" else self.values[int(prep.fill_value)]
            self.note(f"filled {int(missing.sum())} missing values with '{fill}'")
            how = "mode" if prep.missing == "fill_mode" else "value"
            self.record_filled(int(missing.sum()), how, fill)
        lookup = self._lookup()
        texts = np.append(texts, fill)
        out = np.array([lookup.get(t.lower(), np.nan) for t in texts], dtype=np.float32)[codes]
        if self.is_output:
            return torch.from_numpy(self._label_values(out, texts[codes], missing))
        bad = np.flatnonzero(np.isnan(out))
        if len(bad):
            accepted = "', '".join(sorted(lookup))
            raise UserError(
                f"column '{self.column}' {row_label(series, int(bad[0]))}: '{texts[codes[bad[0]]]}' is neither '{self.values[0]}' nor '{self.values[1]}' (accepted: '{accepted}')"
            )
        return torch.from_numpy(out)

    def _value_of(self, text: str) -> str:
        """Which of the two values `text` is, in any accepted form (YAML's `yes` key is
        `true`), else `text` itself."""
        index = self._lookup().get(text.lower())
        return text if index is None else self.values[int(index)]

    def _lookup(self) -> dict[str, float]:
        """Lower-case text to 0/1: the two trained values, and their equivalent forms when the
        two are a true/false pair."""
        lookup = {self.values[0].lower(): 0.0, self.values[1].lower(): 1.0}
        truth = [_truth(v) for v in self.values]
        if None not in truth and truth[0] != truth[1]:
            for word in TRUE_WORDS | FALSE_WORDS:
                lookup.setdefault(word, float(_truth(word) == truth[1]))
        return lookup

    def labels(self, chosen: np.ndarray) -> np.ndarray:
        """(N,) 0/1 indices to labels of the training column's type (ints, bools, strings)."""
        return typed_values(self.values, self.kind)[chosen]

    def _label_values(
        self, out: np.ndarray, row_texts: np.ndarray, missing: np.ndarray
    ) -> np.ndarray:
        """Labels: a missing one stays NaN (the loss skips it); any value other than the two
        is UNSEEN_BINARY, which no prediction can match: evaluation counts it as an error."""
        unseen = np.isnan(out) & ~missing
        if unseen.any():
            out[unseen] = UNSEEN_BINARY
            example = row_texts[int(np.flatnonzero(unseen)[0])]
            self.note(
                f"{int(unseen.sum())} rows whose label is neither '{self.values[0]}' nor '{self.values[1]}' (e.g. '{example}') count as errors"
            )
        return out

    def state(self) -> dict[str, Any]:
        kind = {"kind": self.kind} if self.is_output else {}
        return {"values": self.values, "mode": self.mode, **kind, **_weights_state(self)}

    def load_state(self, state: dict[str, Any]) -> None:
        self.values, self.mode = state["values"], state["mode"]
        self.kind = state.get("kind", "str")  # saved before kinds were recorded: strings
        self.class_weights = state.get("class_weights")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _opposite(value: str) -> str:
    pairs = {"true": "false", "1": "0", "yes": "no", "y": "n", "t": "f"}
    return pairs.get(value.lower(), f"not {value}")


def _truth(value: str) -> bool | None:
    """True or False for a true/false word (any case), None for anything else."""
    word = value.lower()
    return True if word in TRUE_WORDS else False if word in FALSE_WORDS else None


def value_kind(series: pd.Series) -> str:
    """The type of a label column's values: 'bool', 'int', 'float' or 'str'. Floats that are
    all whole numbers are 'int' (a column of ints with a gap reads as floats)."""
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind == "boolean":
        return "bool"
    if kind == "integer":
        return "int"
    if kind in ("floating", "mixed-integer-float"):
        numbers = series.to_numpy(dtype=np.float64, na_value=np.nan)
        numbers = numbers[~np.isnan(numbers)]
        return "int" if np.all(numbers == np.round(numbers)) else "float"
    return "str"


def typed_values(texts: list[str], kind: str) -> np.ndarray:
    """(C,) class texts as `kind` values; strings where a text does not convert."""
    convert = {"int": int, "float": float, "bool": lambda t: _truth(t)}.get(kind)
    if convert is not None:
        values = [convert(t) if _converts(convert, t) else None for t in texts]
        if None not in values:
            dtype = {"int": np.int64, "float": np.float64, "bool": bool}[kind]
            return np.array(values, dtype=dtype)
    return np.array(texts, dtype=object)


def _converts(convert, text: str) -> bool:
    try:
        return convert(text) is not None
    except ValueError:
        return False


def fitted_class_weights(
    output: Any, classes: list[str], counts: pd.Series, value_of=lambda key: key
) -> list[float] | None:
    """(C,) loss weights of `classes` from an output's `class_weights` setting and the
    training split's class `counts` (texts -> rows): `balanced` n / (C * rows of the class);
    a {class: weight} map (keys read by `value_of`), 1 for the classes it does not name; None
    for `none`."""
    setting = output.class_weights
    if setting == "none":
        return None
    if isinstance(setting, dict):
        setting = {value_of(key): weight for key, weight in setting.items()}
    rows = np.array([counts.get(c, 0) for c in classes], dtype=np.float64)
    if setting == "balanced":
        if (rows == 0).any():
            absent = classes[int(np.flatnonzero(rows == 0)[0])]
            raise UserError(
                f"output '{output.name}': class_weights balanced needs rows of every class, but the training data has none of '{absent}'; give the weights as {{class: weight}}"
            )
        return [float(w) for w in rows.sum() / (len(classes) * rows)]
    unknown = [c for c in setting if c not in classes]
    if unknown:
        known = ", ".join(f"'{c}'" for c in classes[:10])
        raise UserError(
            f"output '{output.name}': class_weights names class '{unknown[0]}', which is not in the training data (classes: {known}); fix or remove it"
        )
    return [float(setting.get(c, 1.0)) for c in classes]


def _weights_state(feature: _CountedFeature) -> dict[str, Any]:
    """preprocessing.json's `class_weights` of an output that has them (resume reuses them)."""
    return {"class_weights": feature.class_weights} if feature.class_weights else {}
