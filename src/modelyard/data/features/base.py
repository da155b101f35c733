"""What every feature preprocessor shares: naming, missing values, notes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from modelyard.errors import UserError


def is_missing(series: pd.Series) -> np.ndarray:
    """(N,) bool: NaN, None, or an empty / blank string."""
    values = series.to_numpy(dtype=object)
    return np.array(
        [
            v is None
            or (isinstance(v, float) and np.isnan(v))
            or (isinstance(v, str) and not v.strip())
            for v in values
        ],
        dtype=bool,
    )


def as_text(value: Any) -> str:
    """Category values as strings; 3.0 and 3 are the same category."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    return str(value).strip()


def row_label(series: pd.Series, position: int) -> str:
    """How to name a row to the user: the table's data row number (1 = first row under the header)."""
    index = series.index[position]
    return f"row {index + 1}" if isinstance(index, (int, np.integer)) else f"row '{index}'"


class Feature:
    """A preprocessor for one input or output column. Subclasses fit on the training split only.

    `fit(series)` learns state from training values (missing ones already removed when the
    policy is `drop`); `transform(series) -> Tensor` maps any split with that state;
    `state()`/`load_state()` round-trip through JSON.
    """

    type: str = ""

    def __init__(self, config: Any, is_output: bool = False):
        self.config = config
        self.name: str = config.name
        self.column: str = config.column or config.name
        self.is_output = is_output
        self.notes: list[str] = []

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
                f"{kind} '{self.name}': column '{self.column}' is not in the data; columns: {', '.join(map(str, frame.columns))}"
            )
        return frame[self.column]

    def note(self, message: str) -> None:
        self.notes.append(f"{self.name}: {message}")

    def attach(self, inputs: list[Feature]) -> None:
        """Called on outputs with the input features, for outputs built on an input's tokens
        (tags, a shared tokenizer). Nothing by default."""

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
    missing = is_missing(series)
    numbers = pd.to_numeric(series.where(~missing, None), errors="coerce").to_numpy(
        dtype=np.float64
    )
    bad = np.flatnonzero(np.isnan(numbers) & ~missing)
    if len(bad):
        value = series.iloc[bad[0]]
        raise UserError(
            f"column '{feature}' {row_label(series, bad[0])}: '{value}' is not a number ({len(bad)} such rows); fix the data or use type: category"
        )
    if np.isinf(numbers).any():
        position = int(np.flatnonzero(np.isinf(numbers))[0])
        raise UserError(
            f"column '{feature}' {row_label(series, position)}: infinite value; fix the data"
        )
    return numbers
