"""pandas' own missing values (pd.NA in nullable columns, None, NaN, NaT) are missing for every
tabular feature; labels come back in their column's type; binary inputs take equivalent forms."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modelyard.config.schema import (
    BinaryInput,
    BinaryOutput,
    CategoryInput,
    CategoryOutput,
    NumberInput,
)
from modelyard.data.features.base import is_missing, parse_numbers
from modelyard.data.features.tabular import UNKNOWN, BinaryFeature, CategoryFeature, NumberFeature
from modelyard.errors import UserError


@pytest.mark.parametrize(
    "series",
    [
        pd.Series([1, pd.NA, 3], dtype="Int64"),
        pd.Series([1.0, pd.NA, 3.0], dtype="Float64"),
        pd.Series(["a", pd.NA, "c"], dtype="string"),
        pd.Series([True, pd.NA, False], dtype="boolean"),
        pd.Series(["a", pd.NA, "c"], dtype=object),
        pd.Series(["a", pd.NaT, " "], dtype=object),
        pd.Series(["a", None, "c"], dtype="category"),
    ],
)
def test_pandas_missing_values_are_missing(series):
    assert is_missing(series)[1]
    assert not is_missing(series)[0]


def test_a_nullable_integer_number_input_is_filled():
    f = NumberFeature(NumberInput(name="n", type="number"))
    series = pd.Series([1, pd.NA, 3], dtype="Int64")
    f.fit(series)
    assert f.transform(series).tolist() == pytest.approx([-1.0, 0.0, 1.0])


@pytest.mark.parametrize("dtype", ["string", object])
def test_pd_na_is_not_a_category(dtype):
    f = CategoryFeature(CategoryInput(name="c", type="category"))
    series = pd.Series(["a", pd.NA, "b", "a"], dtype=dtype)
    f.fit(series)
    assert f.vocab == [UNKNOWN, "a", "b"]
    assert f.transform(series).tolist() == [1, 0, 2, 1]


def test_nullable_boolean_binary_input_is_filled():
    f = BinaryFeature(BinaryInput(name="b", type="binary"))
    series = pd.Series([True, pd.NA, False, True], dtype="boolean")
    f.fit(series)
    assert f.values == ["false", "true"]
    assert f.transform(series).tolist() == [1.0, 1.0, 0.0, 1.0]  # filled with the mode


def test_decimal_comma_advises_the_decimal_setting():
    with pytest.raises(UserError, match=r"'78,5' is not a number.*data.decimal: \",\""):
        parse_numbers(pd.Series(["12", "78,5", "3,25"]), "weight")
    with pytest.raises(UserError, match="use type: category"):
        parse_numbers(pd.Series(["12", "heavy"]), "weight")


# --- labels in their own type


def category_output(series) -> CategoryFeature:
    f = CategoryFeature(CategoryOutput(name="y", type="category"), is_output=True)
    f.fit(series)
    return f


@pytest.mark.parametrize(
    ("series", "expected"),
    [
        (pd.Series([3, 1, 2, 1]), [1, 2, 3]),
        (pd.Series([3, pd.NA, 1], dtype="Int64"), [1, 3]),
        (pd.Series([3.0, np.nan, 1.0]), [1, 3]),  # ints with a gap read as floats
        (pd.Series([0.5, 1.5]), [0.5, 1.5]),
        (pd.Series([True, False]), [False, True]),
        (pd.Series(["b", "a"]), ["a", "b"]),
    ],
)
def test_category_labels_keep_their_type(series, expected):
    f = category_output(series)
    labels = f.labels(np.arange(len(expected)))
    assert labels.tolist() == expected
    assert [type(v) for v in labels.tolist()] == [type(v) for v in expected]


def test_label_type_is_saved_and_old_states_give_strings():
    f = category_output(pd.Series([1, 2, 1]))
    state = json.loads(json.dumps(f.state()))
    again = CategoryFeature(CategoryOutput(name="y", type="category"), is_output=True)
    again.load_state(state)
    assert again.labels(np.array([1, 0])).tolist() == [2, 1]
    del state["kind"]  # saved by an older version
    again.load_state(state)
    assert again.labels(np.array([1, 0])).tolist() == ["2", "1"]


@pytest.mark.parametrize(
    ("series", "expected"), [([0, 1, 1], [0, 1]), ([True, False], [False, True])]
)
def test_binary_labels_keep_their_type(series, expected):
    f = BinaryFeature(BinaryOutput(name="y", type="binary"), is_output=True)
    f.fit(pd.Series(series))
    assert f.labels(np.array([0, 1])).tolist() == expected


def test_pd_na_label_is_dropped_not_a_class(tmp_path):
    from modelyard.config import validate
    from modelyard.data.features import Preprocessing

    config = validate(
        {
            "name": "t",
            "inputs": [{"name": "x", "type": "number"}],
            "outputs": [{"name": "y", "type": "category"}],
        }
    )
    frame = pd.DataFrame(
        {"x": [1.0, 2.0, 3.0, 4.0], "y": pd.array(["a", pd.NA, "b", "a"], dtype="string")}
    )
    preprocessing = Preprocessing(config)
    preprocessing.fit(frame)
    assert preprocessing.outputs[0].vocab == ["a", "b"]
    assert len(preprocessing.prepare(frame, "train")) == 3


# --- binary inputs in equivalent forms


@pytest.mark.parametrize(
    "trained",
    [[0, 1, 1], [True, False, True], ["no", "yes", "yes"], ["0", "1", "1"], ["F", "T", "T"]],
)
def test_binary_input_accepts_the_equivalent_forms(trained):
    f = BinaryFeature(BinaryInput(name="flag", type="binary"))
    f.fit(pd.Series(trained))
    given = pd.Series([True, False, 1, 0, "true", "False", "yes", "no", "1", "0", 1.0])
    assert f.transform(given).tolist() == [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]


def test_binary_input_refuses_other_forms_naming_column_and_row():
    f = BinaryFeature(BinaryInput(name="flag", type="binary"))
    f.fit(pd.Series([0, 1]))
    with pytest.raises(UserError, match=r"column 'flag' row 2: 'maybe' is neither '0' nor '1'"):
        f.transform(pd.Series(["yes", "maybe"]))


def test_binary_values_that_are_not_a_true_false_pair_get_no_equivalents():
    f = BinaryFeature(BinaryInput(name="flag", type="binary"))
    f.fit(pd.Series(["cat", "dog"]))
    assert f.transform(pd.Series(["Dog", "cat"])).tolist() == [1.0, 0.0]
    with pytest.raises(UserError, match="'true' is neither 'cat' nor 'dog'"):
        f.transform(pd.Series(["true"]))


def test_many_mixed_values_map_as_one_value_at_a_time_would():
    choices = ["a", "b", " c ", "d", None, 3, 3.0, np.nan, "", True]
    rng = np.random.default_rng(0)
    values = pd.Series([choices[i] for i in rng.integers(len(choices), size=500)], dtype=object)
    f = CategoryFeature(CategoryInput(name="c", type="category"))
    f.fit(values)
    assert sorted(f.vocab) == sorted([UNKNOWN, "a", "b", "c", "d", "3", "true"])
    index = {v: i for i, v in enumerate(f.vocab)}
    texts = {"a": "a", "b": "b", " c ": "c", "d": "d", 3: "3", True: "true"}  # 3.0 finds 3
    expected = [0 if v in (None, "") or v != v else index[texts[v]] for v in values]
    assert f.transform(values).tolist() == expected
