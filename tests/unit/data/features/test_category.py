"""Category features: vocabulary from training data, unknown values, missing-value policies."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from modelyard.config.schema import CategoryInput, CategoryOutput
from modelyard.data.features.tabular import UNKNOWN, CategoryFeature
from modelyard.errors import UserError

TRAIN = pd.Series(["b", "a", "b", "c", "b", "a"])


def fitted(series=TRAIN, **preprocessing) -> CategoryFeature:
    f = CategoryFeature(CategoryInput(name="colour", type="category", preprocessing=preprocessing))
    f.fit(series)
    return f


def test_vocabulary_by_frequency_with_unknown_first():
    f = fitted()
    assert f.vocab == [UNKNOWN, "b", "a", "c"]
    assert f.transform(TRAIN).tolist() == [1, 2, 1, 3, 1, 2]


def test_unseen_values_map_to_index_zero_with_a_note():
    f = fitted()
    before = f.state()
    assert f.transform(pd.Series(["a", "zebra", "yak"])).tolist() == [2, 0, 0]
    assert f.notes == ["colour: 2 values not seen in training (e.g. 'zebra') mapped to unknown"]
    assert f.state() == before


def test_numbers_and_their_float_form_are_one_category():
    f = fitted(pd.Series([1, 2, 2]))
    assert f.transform(pd.Series([2.0, 1.0, "1"])).tolist() == [1, 2, 2]


def test_min_count_and_max_size():
    assert fitted(min_count=2).vocab == [UNKNOWN, "b", "a"]
    assert fitted(max_size=1).vocab == [UNKNOWN, "b"]


@pytest.mark.parametrize(
    ("policy", "extra", "fill", "code"),
    [
        ("unknown", {}, UNKNOWN, 0),
        ("fill_mode", {}, "b", 1),
        ("fill_value", {"fill_value": "c"}, "c", 3),
    ],
)
def test_missing_value_policies_fill_and_note(policy, extra, fill, code):
    f = fitted(missing=policy, **extra)
    assert f.transform(pd.Series([None, "a", " "])).tolist() == [code, 2, code]
    assert f.notes[0] == f"colour: filled 2 missing values with '{fill}'"


def test_missing_values_are_not_a_category():
    assert fitted(pd.Series(["a", None, "b", ""])).vocab == [UNKNOWN, "a", "b"]


def test_no_values_in_training_data():
    with pytest.raises(UserError, match="column 'colour' has no values in the training data"):
        fitted(pd.Series([None, ""]))


def output(series) -> CategoryFeature:
    f = CategoryFeature(CategoryOutput(name="label", type="category"), is_output=True)
    f.fit(series)
    return f


def test_output_classes_are_sorted_without_unknown():
    f = output(TRAIN)
    assert f.vocab == ["a", "b", "c"]


def test_output_labels_of_unseen_classes_get_indices_no_prediction_matches():
    f = output(TRAIN)
    codes = f.transform(pd.Series(["a", "e", None, "d", "e", "c"]))
    assert codes.tolist() == [0, 4, -100, 3, 4, 2]  # unseen d, e: 3 + 0, 3 + 1; missing: -100
    assert f.notes == [
        "label: 3 rows of classes not in the training data (e.g. 'd') count as errors"
    ]


def test_output_with_one_class_is_an_error():
    with pytest.raises(
        UserError, match="output 'label': the training data has one class only \\('a'\\)"
    ):
        output(pd.Series(["a", "a"]))


def test_state_round_trips_through_json():
    f = fitted()
    g = CategoryFeature(CategoryInput(name="colour", type="category"))
    g.load_state(json.loads(json.dumps(f.state())))
    series = pd.Series(["c", "a", "q", None])
    assert torch.equal(g.transform(series), f.transform(series))
