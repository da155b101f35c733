"""Turning the config's data section into train / validation / test tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from modelyard.config.schema import Config, Data, Split
from modelyard.data.columns import column_hint, require_unique_columns
from modelyard.data.features.base import row_label, texts_of
from modelyard.data.read import read_data
from modelyard.data.stratify import stratified_parts
from modelyard.errors import UserError
from modelyard.train.progress import log

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
    """Columns holding file paths (resolved relative to their table): image and audio inputs,
    and outputs whose task reads files (masks)."""
    from modelyard.tasks import task_of

    outputs = [f.column or f.name for f in config.outputs if task_of(f).reads_files]
    return [f.column or f.name for f in config.inputs if f.type in ("image", "audio")] + outputs


def label_columns(config: Config) -> list[str]:
    return [f.column or f.name for f in config.outputs]


def read_config_data(config: Config, base: Path) -> dict[str, pd.DataFrame | None]:
    """Read the files named in `config.data` (relative to `base`) and split them."""
    if config.data.train is None:
        raise UserError(
            "data.train: no training data given; set it in the config or pass DataFrames to fit()"
        )
    read = lambda name: read_data(  # noqa: E731
        base / name, file_columns(config), label_columns(config), config.data
    )
    tables = {}
    for name in SPLIT_NAMES:
        written = getattr(config.data, name)
        tables[name] = read(written) if written else None
        if written:
            require_columns(
                list(tables[name].columns), base / written, needed_columns(config, name)
            )
    split = with_resolved_split(config, given_splits(config.data)).data.split
    return split_tables(tables, split)


def needed_columns(config: Config, split: str = "train") -> dict[str, str]:
    """{column: who needs it} of a split's table: every input's and output's column, and in
    the training table the split's own column or hash id column."""
    needed = {f.column or f.name: f"input '{f.name}'" for f in config.inputs}
    needed.update({f.column or f.name: f"output '{f.name}'" for f in config.outputs})
    rule = config.data.split
    if split == "train" and rule.column is not None:
        needed[rule.column] = "data.split.column"
    elif split == "train" and rule.by == "hash" and rule.id_column is not None:
        needed[rule.id_column] = "data.split.id_column"
    if split == "train" and rule.stratify not in ("auto", "none"):
        needed.setdefault(rule.stratify, "data.split.stratify")
    evaluation = getattr(config, "evaluation", None)
    for column in evaluation.sensitive if evaluation is not None else ():
        needed.setdefault(column, "evaluation.sensitive")
    return needed


def require_columns(columns: list[str], where: Path, needed: dict[str, str]) -> None:
    """A UserError naming the data file (or folder, or pattern) and the first column of
    `needed` ({column: who needs it}) it lacks."""
    for column, who in needed.items():
        if column not in columns:
            raise UserError(
                f"data '{where}' has no column '{column}' ({who}){column_hint(column, columns)}"
            )


def given_splits(data: Data) -> set[str]:
    """The splits the config names files for."""
    return {name for name in SPLIT_NAMES if getattr(data, name)}


def resolve_split(data: Data, given: set[str]) -> Split:
    """`data.split` as it will really be done, for the resolved config: a split that is given
    (a file, or a DataFrame passed to `fit`) is used as it is, so its ratio is None; so are
    both ratios when a split column decides. When validation is given and test is not, no test
    split is carved from train unless `data.split.test` was written in the config."""
    split = data.split
    if split.column is not None:
        return split.model_copy(update={"validation": None, "test": None})
    update = {name: None for name in ("validation", "test") if name in given}
    if "validation" in given and "test" not in split.model_fields_set:
        update["test"] = None
    return split.model_copy(update=update)


def with_resolved_split(config: Config, given: set[str]) -> Config:
    """`config` with `data.split` resolved for these given splits (see `resolve_split`),
    `stratify` included (`resolved_stratify`)."""
    split = resolve_split(config.data, given)
    split = split.model_copy(update={"stratify": resolved_stratify(config, split)})
    data = config.data.model_copy(update={"split": split})
    return config.model_copy(update={"data": data})


def resolved_stratify(config: Config, split: Split) -> str:
    """The column a resolved `split` stratifies on, or "none": none unless rows are carved
    at random; `auto` is the column of a single output whose task splits by class."""
    from modelyard.tasks import task_of

    carved = split.column is None and split.by == "random" and (split.validation or split.test)
    if not carved or split.stratify != "auto":
        return split.stratify if carved else "none"
    outputs = config.outputs
    if len(outputs) == 1 and task_of(outputs[0]).stratifies:
        return outputs[0].column or outputs[0].name
    return "none"


def split_tables(
    tables: dict[str, pd.DataFrame | None], split: Split
) -> dict[str, pd.DataFrame | None]:
    """Fill in missing validation/test tables from the training table, by column or by ratio."""
    train = tables["train"]
    for table in tables.values():
        if table is not None:
            require_unique_columns(table)
    if split.column is not None:
        if split.column not in train.columns:
            raise UserError(
                f"data.split.column: column '{split.column}' is not in the training data{column_hint(split.column, train.columns)}"
            )
        return _split_by_column(train, split.column, tables)
    if split.by == "hash":
        return _split_by_hash(train, split, tables)
    return _split_at_random(train, split, tables)


def _split_at_random(
    train: pd.DataFrame, split: Split, tables: dict
) -> dict[str, pd.DataFrame | None]:
    """Exact counts of the seeded permutation's rows; stratified by `split.stratify` unless
    it is "none" (or "auto", which `with_resolved_split` resolves before)."""
    order = np.random.default_rng(split.seed).permutation(len(train))
    sizes = {n: max(1, round(getattr(split, n) * len(train))) for n in carved_splits(split, tables)}
    stratify = split.stratify if split.stratify not in ("auto", "none") and sizes else None
    if stratify is not None:
        if stratify not in train.columns:
            raise UserError(
                f"data.split.stratify: column '{stratify}' is not in the training data{column_hint(stratify, train.columns)}"
            )
        parts = stratified_parts(train[stratify], order, sizes, stratify)
    else:
        ends = np.cumsum(list(sizes.values()), dtype=np.int64)
        parts = dict(zip(sizes, np.split(order, ends)[:-1], strict=True))
        parts["train"] = order[ends[-1] if len(ends) else 0 :]
    out = dict(tables)
    for name, rows in parts.items():
        out[name] = train.iloc[np.sort(rows)]
    if len(out["train"]) == 0:
        raise UserError(
            "data: no training rows are left after taking the validation and test splits"
        )
    if sizes:
        carved = " and ".join(
            f"{name} {len(out[name])}" for name in SPLIT_NAMES[1:] if name in sizes
        )
        how = f", stratified by '{stratify}'" if stratify else ""
        log(
            f"data: of {len(train)} training rows, {carved} were set aside (data.split, seed {split.seed}{how})"
        )
    return out


def _split_by_hash(
    train: pd.DataFrame, split: Split, tables: dict
) -> dict[str, pd.DataFrame | None]:
    """Each row's split from a hash of its id (or row number) and the seed (`hash_splits`).
    Vectorised (pandas' hashing), one pass, no permutation."""
    names = hash_splits(train, split, carved_splits(split, tables))
    out, carved = dict(tables), []
    for name in ("test", "validation"):
        if name not in carved_splits(split, tables):
            continue
        rows = names == name
        if not rows.any():
            raise UserError(
                f"data.split by: hash gave no {name} rows among {len(train)}; "
                f"use a larger data.split.{name} or by: random for a table this small"
            )
        out[name] = train[rows]
        carved.append(f"{name} {int(rows.sum())}")
    out["train"] = train[names == "train"]
    if len(out["train"]) == 0:
        raise UserError(
            "data: no training rows are left after taking the validation and test splits"
        )
    if carved:
        of = f"'{split.id_column}'" if split.id_column else "the row number"
        log(
            f"data: of {len(train)} training rows, {' and '.join(carved)} were set aside "
            f"(data.split by a hash of {of}, seed {split.seed})"
        )
    return out


def carved_splits(split: Split, tables: dict) -> list[str]:
    """The splits cut from the training table by ratio: not given, with a ratio above 0."""
    return [n for n in ("test", "validation") if tables.get(n) is None and getattr(split, n)]


def hash_splits(
    frame: pd.DataFrame, split: Split, carved: list[str], first_row: int = 0
) -> np.ndarray:
    """(N,) object: "train", "validation" or "test" for each row of `frame`, by a hash of its
    id (`split.id_column`) or row number (`first_row` is the number of the frame's first row
    in its whole table, for a table read in parts) and the seed, mapped to [0, 1): below
    test -> test, below test + validation -> validation, else train."""
    key = _hash_key(frame, split.id_column, first_row)
    seed = f"{split.seed % 10**16:016d}"  # pandas' hash key: 16 characters
    hashed = pd.util.hash_pandas_object(key, index=False, hash_key=seed).to_numpy()
    position = hashed / 2.0**64  # (N,) in [0, 1)
    names = np.full(len(frame), "train", dtype=object)
    below = 0.0
    for name in ("test", "validation"):
        if name in carved:
            ratio = getattr(split, name)
            names[(position >= below) & (position < below + ratio)] = name
            below += ratio
    return names


def _hash_key(train: pd.DataFrame, id_column: str | None, first_row: int = 0) -> pd.Series:
    """What is hashed per row: the id column's values as category texts (3 and 3.0 alike;
    a missing id is the user's error), or the row number."""
    if id_column is None:
        return pd.Series(np.arange(first_row, first_row + len(train)), dtype=np.int64)
    if id_column not in train.columns:
        raise UserError(
            f"data.split.id_column: column '{id_column}' is not in the training data{column_hint(id_column, train.columns)}"
        )
    texts = texts_of(train[id_column])
    missing = np.flatnonzero(pd.isna(texts))
    if len(missing):
        row = row_label(train[id_column], int(missing[0]))
        raise UserError(
            f"data.split.id_column '{id_column}': {row} has no id ({len(missing)} such rows); "
            "every row needs one to be split by its hash"
        )
    return pd.Series(texts, dtype=object)


def _split_by_column(
    train: pd.DataFrame, column: str, tables: dict
) -> dict[str, pd.DataFrame | None]:
    mapped = column_splits(train, column)
    out = dict(tables)
    for name in SPLIT_NAMES:
        part = train[mapped == name].drop(columns=[column])
        if tables[name] is None or name == "train":
            out[name] = part if len(part) else None
    if out["train"] is None:
        raise UserError(f"data.split.column '{column}': no row is marked train")
    return out


def column_splits(frame: pd.DataFrame, column: str) -> np.ndarray:
    """(N,) object: each row's split as its `column` names it (train/validation/test,
    valid/val, 0/1/2, any case); anything else is the user's error, naming the row."""
    values = pd.Series(texts_of(frame[column]), index=frame.index).str.lower()  # 1.0 is "1"
    mapped = values.map(_COLUMN_VALUES)
    bad = np.flatnonzero(mapped.isna())
    if len(bad):
        row = row_label(frame[column], int(bad[0]))
        raise UserError(
            f"data.split.column '{column}': {row} has '{frame[column].iloc[bad[0]]}'; use train, validation or test"
        )
    return mapped.to_numpy(dtype=object)
