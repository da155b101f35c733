"""The rows a cross-validation shares out among its folds, and the config each fold trains.

Every row that is not a fixed test set is cross-validated: the training file's rows, then
the validation file's (if the config names one), numbered 0..N-1 in that order (folds.csv's
`row`). A test file, and the rows a `data.split.column` marks test, are left out: they are
the held-out data of a final model, not of a fold. Each fold is an ordinary run on its own
rows: its held-out rows are the run's test split, and the validation split (for early
stopping and `keep: best`) is cut from its training rows by `data.split.validation` (never
from the held-out rows), so preprocessing is fitted on the fold's training rows alone.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from modelyard.config.schema import Config
from modelyard.data.read import read_data
from modelyard.data.split import (
    column_splits,
    file_columns,
    label_columns,
    needed_columns,
    require_columns,
)
from modelyard.errors import UserError
from modelyard.train.progress import log


def cv_rows(config: Config, base: Path) -> tuple[pd.DataFrame, Config]:
    """(the rows to cross-validate, index 0..N-1; the config each fold trains with)."""
    data = config.data
    if data.train is None:
        raise UserError("data.train: cross-validation needs the config's training data")
    frames = []
    for name in ("train", "validation"):
        written = getattr(data, name)
        if written:
            frame = read_data(base / written, file_columns(config), label_columns(config), data)
            require_columns(list(frame.columns), base / written, needed_columns(config, name))
            frames.append(frame)
    if data.test:
        log(
            f"note: cv leaves out the test file '{data.test}' (every fold is tested on its own held-out rows)"
        )
    rows = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    rows, config = _without_split_column(rows, config)
    return rows.reset_index(drop=True), _fold_config(config)


def _without_split_column(rows: pd.DataFrame, config: Config) -> tuple[pd.DataFrame, Config]:
    """With `data.split.column`: its test rows left out, the column dropped, the config
    without it."""
    column = config.data.split.column
    if column is None:
        return rows, config
    marked = column_splits(rows, column)
    if (marked == "test").any():
        log(
            f"note: cv leaves out the {(marked == 'test').sum()} rows data.split.column '{column}' marks test"
        )
    rows = rows[marked != "test"].drop(columns=[column])
    split = config.data.split.model_copy(update={"column": None})
    return rows, config.model_copy(update={"data": config.data.model_copy(update={"split": split})})


def _fold_config(config: Config) -> Config:
    """The config of a fold's run: no validation or test file and no test ratio (its rows are
    given to fit: the held-out ones as its test split; validation is cut from the others)."""
    split = config.data.split.model_copy(update={"test": None})
    data = config.data.model_copy(update={"split": split, "validation": None, "test": None})
    return config.model_copy(update={"data": data})


def stratify_column(config: Config) -> str:
    """The column --stratify keeps the class shares of: the single category or binary output's."""
    from modelyard.tasks import task_of

    outputs = config.outputs
    if len(outputs) != 1 or not task_of(outputs[0]).stratifies:
        kinds = ", ".join(f"'{o.name}' ({o.type})" for o in outputs)
        raise UserError(
            f"--stratify keeps the class shares of a single category or binary output; this "
            f"config's outputs are {kinds}: leave out --stratify"
        )
    return outputs[0].column or outputs[0].name
