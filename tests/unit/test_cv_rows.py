"""cv/rows.py: which rows a cross-validation shares out, and the config each fold trains."""

from __future__ import annotations

import pandas as pd
import pytest

from modelyard.config import load_config
from modelyard.cv.rows import cv_rows, stratify_column
from modelyard.errors import UserError


def _config(tmp_path, **data) -> dict:
    return {
        "name": "t",
        "data": {"train": "train.csv", **data},
        "inputs": [{"name": "x", "type": "number"}],
        "outputs": [{"name": "y", "type": "category"}],
    }


def _write(tmp_path, name: str, start: int, count: int, **columns) -> None:
    frame = pd.DataFrame({"x": range(start, start + count), "y": ["a", "b"] * (count // 2)})
    for column, values in columns.items():
        frame[column] = values
    frame.to_csv(tmp_path / name, index=False)


def test_training_and_validation_files_are_cross_validated_and_a_test_file_is_left_out(tmp_path):
    _write(tmp_path, "train.csv", 0, 6)
    _write(tmp_path, "valid.csv", 100, 4)
    _write(tmp_path, "test.csv", 200, 4)
    config, base = load_config(_config(tmp_path, validation="valid.csv", test="test.csv"))
    rows, fold_config = cv_rows(config, tmp_path)
    assert rows["x"].tolist() == [0, 1, 2, 3, 4, 5, 100, 101, 102, 103]  # folds.csv's rows
    assert rows.index.tolist() == list(range(10))
    assert fold_config.data.split.test is None
    assert fold_config.data.validation is None and fold_config.data.test is None
    assert fold_config.data.split.validation == pytest.approx(0.15)  # cut from each fold's rows


def test_rows_a_split_column_marks_test_are_left_out(tmp_path):
    _write(tmp_path, "train.csv", 0, 6, part=["train", "test", "val", "train", "test", "train"])
    config, _ = load_config(_config(tmp_path, split={"column": "part"}))
    rows, fold_config = cv_rows(config, tmp_path)
    assert rows["x"].tolist() == [0, 2, 3, 5] and "part" not in rows.columns
    assert fold_config.data.split.column is None


def test_stratify_needs_a_single_classifier_output(tmp_path):
    config, _ = load_config(_config(tmp_path))
    assert stratify_column(config) == "y"
    raw = _config(tmp_path)
    raw["outputs"] = [{"name": "y", "type": "number"}]
    with pytest.raises(UserError, match=r"outputs are 'y' \(number\): leave out --stratify"):
        stratify_column(load_config(raw)[0])


def test_fold_scores_leave_out_row_counts_of_every_output():
    from modelyard.cv import _scores

    metrics = {
        "label.accuracy": 0.5,
        "label.rows": 10,
        "rows": 12,
        "rows_unseen_class": 1,
        "rows_left_out": {"no label": 2},
        "positive_class": "yes",
        "amount.mse": 2,
    }
    assert _scores(metrics) == {"label.accuracy": 0.5, "amount.mse": 2.0}
