"""`Preprocessing`: fits every feature on train, drops rows with missing labels, saves state."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from modelyard.config import validate
from modelyard.data.features import FEATURES, Preprocessing
from modelyard.errors import UserError


def config(missing_labels="drop", x_missing="fill_mean"):
    return validate(
        {
            "data": {"missing_labels": missing_labels},
            "inputs": [
                {"name": "x", "type": "number", "preprocessing": {"missing": x_missing}},
                {"name": "c", "type": "category", "column": "colour"},
            ],
            "outputs": [{"name": "label", "type": "category"}],
        }
    )


TRAIN = pd.DataFrame(
    {
        "x": [1.0, 2.0, 3.0, np.nan, 5.0],
        "colour": ["red", "blue", "red", "blue", None],
        "label": ["a", "b", None, "a", "b"],
    }
)


def fitted(**kwargs) -> Preprocessing:
    prep = Preprocessing(config(**kwargs))
    prep.fit(TRAIN)
    return prep


def test_every_feature_type_is_registered():
    assert FEATURES.names() == ["audio", "binary", "category", "image", "number", "text"]


def test_rows_with_missing_labels_are_dropped_with_a_note():
    prep = fitted()
    table = prep.prepare(TRAIN, "train")
    assert len(table) == 4
    assert list(table.frame.index) == [0, 1, 3, 4]
    assert table.tensors["label"].tolist() == [0, 1, 0, 1]
    assert table.tensors["c"].shape == (4,)
    assert "train: dropped 1 rows with no 'label' label" in prep.notes
    assert "train: x: filled 1 missing values with 2.66667" in prep.notes


def test_fit_uses_only_rows_with_labels():
    assert fitted().inputs[0].state()["fill"] == pytest.approx((1 + 2 + 5) / 3)


def test_missing_labels_error_names_the_row():
    with pytest.raises(
        UserError,
        match=r"train data row 3: label 'label' is missing \(1 rows\); .*missing_labels: drop",
    ):
        fitted(missing_labels="error")


def test_input_drop_policy_drops_training_rows_but_fills_at_predict_time():
    prep = fitted(x_missing="drop")
    table = prep.prepare(TRAIN, "train")
    assert list(table.frame.index) == [0, 1, 4]
    assert "train: dropped 1 rows missing 'x'" in prep.notes
    predicted = prep.prepare(TRAIN, "predict", labels=False)
    assert len(predicted) == 5
    assert set(predicted.tensors) == {"x", "c"}


def test_validation_rows_with_unseen_classes_are_kept_to_count_as_errors():
    prep = fitted()
    validation = pd.DataFrame(
        {"x": [1.0, 2.0, 3.0], "colour": ["red", "green", "blue"], "label": ["a", "zzz", "b"]}
    )
    table = prep.prepare(validation, "validation")
    assert list(table.frame.index) == [0, 1, 2]
    assert table.tensors["label"].tolist() == [0, 2, 1]  # 2: no class the model can predict
    assert table.left_out == {}


def test_input_drop_policy_applies_to_training_rows_only():
    prep = fitted(x_missing="drop")
    table = prep.prepare(TRAIN, "validation")
    assert list(table.frame.index) == [0, 1, 3, 4]  # row 3, missing x, is kept (2: no label)
    predicted = prep.prepare(TRAIN, "predict", labels=False).tensors["x"]
    assert table.tensors["x"].tolist() == predicted[[0, 1, 3, 4]].tolist()  # filled as predict does
    assert table.left_out == {"no 'label' label": 1}
    assert prep.prepare(TRAIN, "train").left_out == {"missing 'x'": 1, "no 'label' label": 1}


def test_unseen_input_category_is_kept_as_unknown():
    prep = fitted()
    validation = pd.DataFrame({"x": [1.0], "colour": ["green"], "label": ["a"]})
    assert prep.prepare(validation, "validation").tensors["c"].tolist() == [0]


def test_statistics_come_from_the_training_split_only():
    prep = fitted()
    before = prep.state()
    other = pd.DataFrame({"x": [100.0, 200.0], "colour": ["pink", "red"], "label": ["a", "b"]})
    prep.prepare(other, "test")
    assert prep.state() == before


def test_no_rows_left_is_an_error():
    prep = fitted()
    with pytest.raises(UserError, match="validation data: no rows left"):
        prep.prepare(pd.DataFrame({"x": [1.0], "colour": ["red"], "label": [None]}), "validation")


def test_missing_column_lists_the_columns():
    with pytest.raises(
        UserError, match="input 'c': column 'colour' is not in the data; columns: x, label"
    ):
        fitted().prepare(TRAIN.drop(columns=["colour"]), "test")


def test_state_round_trips_through_json():
    prep = fitted()
    again = Preprocessing(config())
    again.load_state(json.loads(json.dumps(prep.state())))
    first, second = prep.prepare(TRAIN, "test"), again.prepare(TRAIN, "test")
    for name, tensor in first.tensors.items():
        assert torch.equal(second.tensors[name], tensor)


def test_a_missing_input_column_is_named_before_anything_else():
    with pytest.raises(UserError, match="input 'c': column 'colour' is not in the data"):
        Preprocessing(config()).fit(TRAIN.drop(columns=["colour"]))
