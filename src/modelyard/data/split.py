"""Turning the config's data section into train / validation / test tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from modelyard.config.schema import Config, Split
from modelyard.data.features.base import as_text, row_label
from modelyard.data.read import read_data
from modelyard.errors import UserError

SPLIT_NAMES = ("train", "validation", "test")
_COLUMN_VALUES = {
    "train": "train",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "test": "test",
    "0": "train",
    "1": "validation",
    "2": "test",
}


def file_columns(config: Config) -> list[str]:
    """Columns holding file paths (resolved relative to their table)."""
    return [f.column or f.name for f in config.inputs if f.type in ("image", "audio")]


def label_columns(config: Config) -> list[str]:
    return [f.column or f.name for f in config.outputs]


def read_config_data(config: Config, base: Path) -> dict[str, pd.DataFrame | None]:
    """Read the files named in `config.data` (relative to `base`) and split them."""
    if config.data.train is None:
        raise UserError(
            "data.train: no training data given; set it in the config or pass DataFrames to fit()"
        )
    read = lambda name: read_data(base / name, file_columns(config), label_columns(config))  # noqa: E731
    tables = {
        name: (read(getattr(config.data, name)) if getattr(config.data, name) else None)
        for name in SPLIT_NAMES
    }
    return split_tables(tables, config.data.split)


def split_tables(
    tables: dict[str, pd.DataFrame | None], split: Split
) -> dict[str, pd.DataFrame | None]:
    """Fill in missing validation/test tables from the training table, by column or by ratio."""
    train = tables["train"]
    if split.column is not None:
        if split.column not in train.columns:
            raise UserError(
                f"data.split.column: column '{split.column}' is not in the training data; columns: {', '.join(train.columns)}"
            )
        return _split_by_column(train, split.column, tables)
    rng = np.random.default_rng(split.seed)
    order = rng.permutation(len(train))
    out = dict(tables)
    start = 0
    for name in ("test", "validation"):
        ratio = getattr(split, name)
        if tables[name] is not None or ratio == 0:
            continue
        count = max(1, round(ratio * len(train)))
        out[name] = train.iloc[np.sort(order[start : start + count])]
        start += count
    out["train"] = train.iloc[np.sort(order[start:])]
    if len(out["train"]) == 0:
        raise UserError(
            "data: no training rows are left after taking the validation and test splits"
        )
    return out


def _split_by_column(
    train: pd.DataFrame, column: str, tables: dict
) -> dict[str, pd.DataFrame | None]:
    values = train[column].map(as_text).str.lower()  # 1.0 (a number column with a gap) is "1"
    mapped = values.map(_COLUMN_VALUES)
    bad = np.flatnonzero(mapped.isna())
    if len(bad):
        row = row_label(train[column], int(bad[0]))
        raise UserError(
            f"data.split.column '{column}': {row} has '{train[column].iloc[bad[0]]}'; use train, validation or test"
        )
    out = dict(tables)
    for name in SPLIT_NAMES:
        part = train[mapped == name].drop(columns=[column])
        if tables[name] is None or name == "train":
            out[name] = part if len(part) else None
    if out["train"] is None:
        raise UserError(f"data.split.column '{column}': no row is marked train")
    return out
