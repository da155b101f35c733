"""Class weights of category and binary outputs, fitted on the training labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.class_weight import compute_class_weight

from modelyard.config.schema import BinaryOutput, CategoryOutput
from modelyard.data.features.tabular import BinaryFeature, CategoryFeature
from modelyard.errors import UserError

LABELS = pd.Series(["b", "a", "b", "c", "b", "b", "b", "a"])


def category(weights, labels=LABELS) -> CategoryFeature:
    output = CategoryOutput(name="kind", type="category", class_weights=weights)
    feature = CategoryFeature(output, is_output=True)
    feature.fit(labels)
    return feature


def test_balanced_weights_match_scikit_learn():
    feature = category("balanced")
    expected = compute_class_weight("balanced", classes=np.array(feature.vocab), y=LABELS)
    np.testing.assert_allclose(feature.class_weights, expected)


def test_weights_given_per_class_default_to_one_and_survive_save_and_load():
    feature = category({"c": 4, "a": 2.5})
    assert feature.vocab == ["a", "b", "c"]
    assert feature.class_weights == [2.5, 1.0, 4.0]
    loaded = CategoryFeature(feature.config, is_output=True)
    loaded.load_state(feature.state())
    assert loaded.class_weights == [2.5, 1.0, 4.0]


def test_no_weights_leave_the_saved_state_as_before():
    feature = category("none")
    assert feature.class_weights is None and "class_weights" not in feature.state()


def test_a_weighted_class_missing_from_the_training_data_is_named():
    with pytest.raises(
        UserError,
        match=r"output 'kind': class_weights names class 'd', which is not in the training data \(classes: 'a', 'b', 'c'\)",
    ):
        category({"d": 3})


def test_numbers_as_yaml_keys_match_numeric_labels():
    assert category({1: 3}, pd.Series([0, 1, 0, 0])).class_weights == [1.0, 3.0]


def test_binary_weights_are_negative_then_positive():
    output = BinaryOutput(name="sick", type="binary", positive="yes", class_weights="balanced")
    feature = BinaryFeature(output, is_output=True)
    feature.fit(pd.Series(["no", "no", "no", "yes"]))
    assert feature.values == ["no", "yes"]
    np.testing.assert_allclose(feature.class_weights, [4 / 6, 2.0])


def test_balanced_weights_need_both_binary_values_in_training():
    output = BinaryOutput(name="sick", type="binary", class_weights="balanced")
    feature = BinaryFeature(output, is_output=True)
    with pytest.raises(UserError, match="class_weights balanced needs rows of every class"):
        feature.fit(pd.Series(["yes", "yes"]))


def test_binary_weight_keys_in_any_accepted_form():
    output = BinaryOutput(name="sick", type="binary", class_weights={True: 5})  # YAML's `yes`
    feature = BinaryFeature(output, is_output=True)
    feature.fit(pd.Series(["No", "Yes", "No"]))
    assert feature.values == ["No", "Yes"] and feature.class_weights == [1.0, 5.0]
