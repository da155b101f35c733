"""What every feature preprocessor shares: naming, missing values, notes."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import torch
from pandas.api.types import is_bool_dtype, is_numeric_dtype, is_object_dtype
from torch import nn

from modelyard.data.columns import column_hint
from modelyard.errors import UserError


def is_missing(series: pd.Series) -> np.ndarray:
    """(N,) bool: NaN, None, pd.NA, NaT, or an empty / blank string."""
    if is_numeric_dtype(series.dtype) or is_bool_dtype(series.dtype):
        return series.isna().to_numpy(dtype=bool)
    return distinct_texts(series)[0] < 0


def as_text(value: Any) -> str:
    """Category values as strings; 3.0 and 3 are the same category."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    return str(value).strip()


def distinct_texts(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each row's code ((N,) int64, -1 where missing) into the distinct values as category texts
    ((U,) object, by `as_text`; two values may give the same text, like 3 and 3.0).

    Vectorised: pandas hashes the column once, and `as_text` runs once per distinct value."""
    missing = series.isna().to_numpy(dtype=bool)
    if is_object_dtype(series.dtype) and _mixed_types(series):  # True and 1 would hash alike
        series = pd.Series(
            [None if m else as_text(v) for v, m in zip(series, missing, strict=True)], dtype=object
        )
    codes, uniques = pd.factorize(series)
    texts = np.array([as_text(v) for v in uniques], dtype=object)
    blank = texts == ""
    if blank.any():
        codes = np.where((codes >= 0) & blank[np.maximum(codes, 0)], -1, codes)
    return codes.astype(np.int64), texts


def texts_of(series: pd.Series) -> np.ndarray:
    """(N,) object: each value as its category text (`as_text`), None where missing."""
    codes, texts = distinct_texts(series)
    return np.append(texts, None)[codes]


def text_counts(series: pd.Series) -> pd.Series:
    """How often each category text occurs (missing values left out), in order of first
    appearance."""
    codes, texts = distinct_texts(series)
    counts = np.bincount(codes[codes >= 0], minlength=len(texts))
    counts = pd.Series(counts, index=pd.Index(texts, dtype=object)).groupby(level=0, sort=False)
    counts = counts.sum()
    return counts[counts > 0]


def _mixed_types(series: pd.Series) -> bool:
    return pd.api.types.infer_dtype(series, skipna=True) in ("mixed", "mixed-integer")


# Rows per part of a fit. A fit sees the training rows in parts of this many rows, in order,
# whether they come from memory or are streamed from files: the parts are the same, so the
# fitted state is identical, bit for bit.
FIT_ROWS = 65_536


def parts(frame, rows: int = FIT_ROWS):
    """`frame` (a DataFrame or Series) in consecutive parts of `rows` rows (the last smaller)."""
    for start in range(0, len(frame), rows):
        yield frame.iloc[start : start + rows]


def fit_in_parts(feature: Feature, series: pd.Series) -> None:
    """`feature.fit(series)` for types that fit in parts: the same parts a streamed fit sees."""
    feature.start_fit()
    for part in parts(series):
        feature.fit_part(part)
    feature.end_fit()


class Moments:
    """Count, mean, sum of squared deviations, minimum and maximum of numbers seen in parts,
    merged by Chan, Golub and LeVeque's update (exact for the first part: numpy's own mean
    and variance). Written here: numpy and pandas have no mergeable moments."""

    def __init__(self):
        self.count, self.mean, self.m2 = 0, 0.0, 0.0
        self.low, self.high = float("inf"), float("-inf")

    def add(self, values: np.ndarray) -> None:
        """values: (n,) float64 without NaN."""
        n = len(values)
        if n == 0:
            return
        mean = values.mean()
        m2 = float(((values - mean) ** 2).sum())
        if self.count == 0:
            self.count, self.mean, self.m2 = n, float(mean), m2
        else:
            total = self.count + n
            delta = float(mean) - self.mean
            self.mean += delta * n / total
            self.m2 += m2 + delta * delta * self.count * n / total
            self.count = total
        self.low, self.high = (
            min(self.low, float(values.min())),
            max(self.high, float(values.max())),
        )

    @property
    def std(self) -> float:
        """The population standard deviation (numpy's `std`, ddof 0)."""
        return float(np.sqrt(self.m2 / self.count))


class TextCounts:
    """How often each category text occurs, merged over parts of a column (`text_counts`
    of the whole column, in the same order of first appearance, exactly)."""

    def __init__(self):
        self._pending: list[pd.Series] = []
        self._kinds: set[str] = set()

    def add(self, series: pd.Series) -> None:
        from modelyard.data.features.tabular import value_kind

        counts = text_counts(series)
        if len(counts):
            self._pending.append(counts)
            self._kinds.add(value_kind(series))
        if len(self._pending) >= 16:  # keep memory to about the distinct values
            self._pending = [self.counts()]

    def counts(self) -> pd.Series:
        """Texts (index) to counts, in order of first appearance."""
        if not self._pending:
            return pd.Series([], dtype=np.int64, index=pd.Index([], dtype=object))
        if len(self._pending) > 1:
            merged = pd.concat(self._pending).groupby(level=0, sort=False).sum()
            self._pending = [merged]
        return self._pending[0]

    def kind(self) -> str:
        """The values' type over every part (`value_kind` of the whole column)."""
        kinds = self._kinds
        if len(kinds) == 1:
            return next(iter(kinds))
        return "float" if kinds == {"int", "float"} else "str"


def map_files(load: Callable[..., Any], jobs: list[tuple]) -> list:
    """[load(*job) for job in jobs], by 4 threads (decoders release the GIL); one after
    another in a DataLoader worker (data/files.py), where the workers are the parallelism."""
    from torch.utils.data import get_worker_info

    if get_worker_info() is not None:
        return [load(*job) for job in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda job: load(*job), jobs, chunksize=64))


def row_label(series: pd.Series, position: int) -> str:
    """How to name a row to the user: the table's data row number (1 = first row under the header)."""
    index = series.index[position]
    return f"row {index + 1}" if isinstance(index, (int, np.integer)) else f"row '{index}'"


class Feature:
    """A preprocessor for one input or output column. Subclasses fit on the training split only.

    `fit(series)` learns state from training values (missing ones already removed when the
    policy is `drop`); `transform(series) -> Tensor` maps any split with that state;
    `state()`/`load_state()` round-trip through JSON.

    An input also answers the tools (serve, export, explain), so that none of them asks for its
    type: the class attributes and the methods under "what tools ask an input" below, each
    with a default that fits tabular values and overridden where a type differs.
    """

    type: str = ""
    # serve: the column holds paths of files this preprocessor reads (images, audio); a request
    # sends such a value as a base64 string or a multipart file part, written to a folder first
    from_file: bool = False
    # serve: the JSON types a request may send as a value of this input (besides null)
    request_type: Any = str
    # explain: how attributions are shaped (explain/inputs.py): category | text | image | other
    explain_kind: str = "other"
    # export: how the column becomes the exported graph's input tensor (`<out>.json`)
    export_preprocessing: str = "see preprocessing.json"

    def __init__(self, config: Any, is_output: bool = False):
        self.config = config
        self.name: str = config.name
        self.column: str = config.column or config.name
        self.is_output = is_output
        self.notes: list[str] = []

    @classmethod
    def variant(cls, config: Any) -> type[Feature]:
        """The class that preprocesses `config`: `cls` itself, unless the type has variants
        (a text input of the bow encoder)."""
        return cls

    # --- missing values

    def drops_missing(self, training: bool) -> bool:
        """Whether rows missing this input are dropped: with `missing: drop`, training rows
        only; other splits fill them in as prediction does."""
        if self.is_output:
            return True
        policy = getattr(self.config.preprocessing, "missing", None)
        return training and policy in ("drop",)

    def column_of(self, frame: pd.DataFrame) -> pd.Series:
        if self.column not in frame.columns:
            kind = "output" if self.is_output else "input"
            raise UserError(
                f"{kind} '{self.name}': column '{self.column}' is not in the data{column_hint(self.column, frame.columns)}"
            )
        return frame[self.column]

    def note(self, message: str) -> None:
        self.notes.append(f"{self.name}: {message}")

    # what the last `transform` filled in: {"rows", "with" (mean, median, mode, unknown,
    # value, empty), "value"}, or None; `Preprocessing.prepare` collects it (the data summary)
    filled: dict[str, Any] | None = None

    def record_filled(self, rows: int, how: str, value: Any) -> None:
        """Say that the last `transform` filled `rows` missing values in, by `how`, with `value`."""
        self.filled = {"rows": rows, "with": how, "value": value}

    def attach(self, inputs: list[Feature]) -> None:
        """Called on outputs with the input features, for outputs built on an input's tokens
        (tags, a shared tokenizer). Nothing by default."""

    # --- what tools ask an input

    def check_request_value(self, value: Any) -> None:
        """serve: raises ValueError saying why `value` (present: not null, not blank) cannot be
        a value of this input. Any value of `request_type` is accepted by default."""

    def parse_form_field(self, text: str) -> Any:
        """serve: a multipart form field's text as a value of this input (ValueError saying why
        it is none). The text itself by default."""
        return text

    def example_tensor(self, rows: int, generator: torch.Generator) -> torch.Tensor:
        """export: a random (rows, ...) tensor of the dtype and shape `transform` gives, to
        check an export without data. Types whose tensors cannot be made up raise UserError
        asking for --data (the default)."""
        raise UserError(
            f"input '{self.name}' ({self.type}): give --data (a few rows of real inputs) to export this model"
        )

    def length_axis(self) -> tuple[int, int] | None:
        """export: (axis, longest allowed) of the axis of `transform`'s tensor whose length
        varies from batch to batch (text tokens), or None where every axis but the batch is
        fixed (the default)."""
        return None

    def export_description(self) -> dict[str, Any]:
        """export: what `<out>.json` says of this input's tensor besides its name, dtype, shape
        and columns: how its values are made from the column."""
        return {"preprocessing": self.export_preprocessing}

    def attribution_layer(self, encoder: Any) -> nn.Module:
        """explain: the module of this input's `encoder` (the nn.Module built for it) to whose
        output integrated gradients attributes: the encoder's own output by default."""
        return encoder

    def explain_baseline(self, x: torch.Tensor) -> torch.Tensor:
        """explain: what "absent" means for `x` (N, ...), rows of `transform`'s tensor: zeros
        by default (the unknown category; the training mean of a standardised number)."""
        return torch.zeros_like(x)

    def augmenter(self):
        """The training-time augmentation of this input (data/augment.py), or None."""
        return None

    # --- fitting in parts (streamed training rows: data/stream.py)

    # True for types that learn from an iterator over the training column read a second
    # time (tokenizers): their fit ends with `end_fit_from(again)` instead of `end_fit()`.
    trains_from_iterator = False

    def start_fit(self) -> None:
        """Before the first part. By default the parts are kept, and `fit` sees them whole at
        `end_fit`; types whose statistics merge (numbers, categories) override all three."""
        self._fit_parts: list[pd.Series] = []

    def fit_part(self, series: pd.Series) -> None:
        """One part of the training column (rows in order; missing ones already dropped when
        the policy is `drop`)."""
        self._fit_parts.append(series)

    def end_fit(self) -> None:
        found, self._fit_parts = self._fit_parts, []
        self.fit(pd.concat(found) if found else pd.Series([], dtype=object))

    # --- to be provided by each feature type

    def fit(self, series: pd.Series) -> None:
        raise NotImplementedError

    def transform(self, series: pd.Series):
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state(self, state: dict[str, Any]) -> None:
        raise NotImplementedError


def parse_numbers(series: pd.Series, feature: str) -> np.ndarray:
    """(N,) float64 with NaN for missing; a value that is not a number is the user's error."""
    if is_numeric_dtype(series.dtype) or is_bool_dtype(series.dtype):
        numbers = series.to_numpy(dtype=np.float64, na_value=np.nan)  # Int64, Float64, boolean too
        missing = np.isnan(numbers)
    else:
        missing = is_missing(series)
        parsed = pd.to_numeric(series.where(~missing, None), errors="coerce")
        numbers = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(np.isnan(numbers) & ~missing)
    if len(bad):
        value = series.iloc[bad[0]]
        raise UserError(
            f"column '{feature}' {row_label(series, bad[0])}: '{value}' is not a number ({len(bad)} such rows); {_number_advice(series.iloc[bad])}"
        )
    if np.isinf(numbers).any():
        position = int(np.flatnonzero(np.isinf(numbers))[0])
        raise UserError(
            f"column '{feature}' {row_label(series, position)}: infinite value; fix the data"
        )
    return numbers


DECIMAL_COMMA = r"^\s*[-+]?\d*,\d+\s*$"


def _number_advice(bad: pd.Series) -> str:
    """What to do about values that are not numbers: a decimal comma ('78,5') is a reading
    setting, anything else is data to fix or a category."""
    if bad.astype(str).str.match(DECIMAL_COMMA).all():
        return 'the file seems to use a decimal comma: set data.decimal: "," (with data.separator: ";" if fields are separated by semicolons), or fix the data'
    return "fix the data or use type: category"
