"""X as scikit-learn passes it, turned into the table modelyard trains on, and the config.

Arrays become number columns `x0..x{F-1}`; a DataFrame keeps its column names (when they are
all strings) and its dtypes: numbers are number inputs, booleans binary inputs, strings,
objects and categoricals category inputs. Validation follows scikit-learn's own estimators
(`n_features_in_`, `feature_names_in_`, ValueError for infinity and empty data); NaN is a
missing value, filled as each input's `missing` setting says.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import validate_data

from modelyard.errors import UserError

NUMBER, BINARY, CATEGORY = "number", "binary", "category"


def input_kind(column: str, series: pd.Series) -> str:
    """The modelyard input type of a DataFrame column, from its dtype."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return BINARY
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return NUMBER
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(dtype):
        return CATEGORY
    if pd.api.types.is_string_dtype(dtype):
        return CATEGORY
    raise UserError(
        f"column '{column}' has dtype {dtype}, which the estimator cannot read; convert it "
        "to numbers, booleans or strings"
    )


def fit_frame(estimator, X) -> tuple[pd.DataFrame, list[str]]:
    """(the table of X's columns under their input names, each column's input type); sets
    `n_features_in_` (and `feature_names_in_` for a DataFrame with string column names)."""
    if isinstance(X, pd.DataFrame):
        validate_data(estimator, X, skip_check_array=True, reset=True)
        _check_frame(X)
        kinds = [input_kind(str(c), X[c]) for c in X.columns]
        return _named(X, estimator), kinds
    array = validate_data(estimator, X, ensure_all_finite="allow-nan", reset=True)
    return _named(pd.DataFrame(array), estimator), [NUMBER] * array.shape[1]


def predict_frame(estimator, X) -> pd.DataFrame:
    """X for a fitted estimator: its columns matched to the training ones by name (a
    DataFrame fitted with names) or by position, under the training input names."""
    kinds = estimator.input_kinds_
    if isinstance(X, pd.DataFrame) and hasattr(estimator, "feature_names_in_"):
        validate_data(estimator, X, skip_check_array=True, reset=False)  # names, count
        _check_frame(X)
        return _named(X[list(estimator.feature_names_in_)], estimator)
    numbers = all(k == NUMBER for k in kinds)
    array = validate_data(
        estimator,
        X,
        ensure_all_finite="allow-nan",
        dtype="numeric" if numbers else None,
        reset=False,
    )
    frame = _named(pd.DataFrame(array), estimator)
    for name, kind in zip(frame.columns, kinds, strict=True):
        if kind == NUMBER:
            frame[name] = pd.to_numeric(frame[name])
    return frame


def input_names(estimator) -> list[str]:
    """The model's input names: the DataFrame's column names, else x0..x{F-1}."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    return [f"x{i}" for i in range(estimator.n_features_in_)]


def output_name(inputs: list[str]) -> str:
    """`target`, or `target_1`, `target_2`, ... where an input has that name."""
    name, i = "target", 0
    while name in inputs:
        i += 1
        name = f"target_{i}"
    return name


def target_vector(y, rows: int, numeric: bool) -> np.ndarray:
    """y as a 1-d array (a column vector warns, as scikit-learn's estimators do); for a
    regressor, finite float64 values."""
    from sklearn.utils import check_array, check_consistent_length, column_or_1d

    if y is None:
        raise ValueError("requires y to be passed, but the target y is None")
    y = column_or_1d(y, warn=True)
    check_consistent_length(np.empty(rows), y)
    if numeric:
        y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
    return y


def _named(X: pd.DataFrame, estimator) -> pd.DataFrame:
    frame = X.copy()
    frame.columns = input_names(estimator)
    return frame.reset_index(drop=True)


def _check_frame(X: pd.DataFrame) -> None:
    """What check_array would reject in a DataFrame of mixed dtypes: no rows or columns,
    infinity in a number column."""
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"Found array with shape {X.shape}; at least 1 row and 1 column needed")
    for column in X.columns:
        values = X[column]
        if input_kind(str(column), values) == NUMBER:
            numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
            if np.isinf(numbers).any():
                raise ValueError(f"Input X contains infinity in column '{column}'")


def merged(generated: dict[str, Any], given: dict[str, Any] | None, where: str = "config") -> dict:
    """`given` (the estimator's `config`) with `generated` (from its parameters and the data)
    written over it; a key both set to different values is the user's error, naming both."""
    result = dict(given or {})
    for key, value in generated.items():
        path = f"{where}['{key}']"
        if key not in result:
            result[key] = value
        elif isinstance(value, dict) and isinstance(result[key], dict):
            result[key] = merged(value, result[key], path)
        elif result[key] != value:
            raise UserError(
                f"{path} is {result[key]!r} but the estimator's parameters (or the data) make "
                f"it {value!r}; set it in one place"
            )
    return result


def with_inputs(generated: list[dict], given: list | None) -> list[dict]:
    """The generated inputs, each updated by the entry of `config['inputs']` with its name
    (e.g. `{"name": "review", "type": "text"}`); an entry naming no column is an error."""
    by_name = {entry["name"]: dict(entry) for entry in generated}
    for entry in given or []:
        if not isinstance(entry, dict) or entry.get("name") not in by_name:
            known = ", ".join(f"'{n}'" for n in list(by_name)[:10])
            raise UserError(
                f"config['inputs'] entry {entry!r} names no column of X (columns: {known}); "
                "give each entry the 'name' of a column"
            )
        if "column" in entry:
            raise UserError(f"config['inputs'] entry '{entry['name']}': leave out 'column'")
        base = by_name[entry["name"]]
        if entry.get("type", base["type"]) != base["type"]:  # e.g. a text input: its own
            base = {"name": entry["name"]}  # encoder and preprocessing
        updated = {**base, **entry}
        by_name[entry["name"]] = updated
    return list(by_name.values())
