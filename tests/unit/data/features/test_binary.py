"""Binary features: which value is positive, more than two values, missing values."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from modelyard.config.schema import BinaryInput, BinaryOutput
from modelyard.data.features.tabular import BinaryFeature
from modelyard.errors import UserError


def fitted(series, **preprocessing) -> BinaryFeature:
    f = BinaryFeature(BinaryInput(name="flag", type="binary", preprocessing=preprocessing))
    f.fit(pd.Series(series))
    return f


@pytest.mark.parametrize(
    ("values", "positive", "expected"),
    [
        (["no", "yes"], "yes", [0.0, 1.0]),
        (["Y", "N"], "Y", [1.0, 0.0]),
        ([0, 1], "1", [0.0, 1.0]),
        ([1.0, 0.0], "1", [1.0, 0.0]),
        ([True, False], "true", [1.0, 0.0]),
        (["f", "t"], "t", [0.0, 1.0]),
        (["dog", "cat"], "dog", [1.0, 0.0]),  # no true-like word: the later in sort order
    ],
)
def test_default_positive_value(values, positive, expected):
    f = fitted(values * 2)
    assert f.values[1] == positive
    assert f.transform(pd.Series(values)).tolist() == expected


def test_configured_positive_value_wins():
    f = fitted(["yes", "no"], positive="no")
    assert f.values == ["yes", "no"]
    assert f.transform(pd.Series(["yes", "no"])).tolist() == [0.0, 1.0]


def test_configured_positive_value_not_in_the_data():
    with pytest.raises(UserError, match=r"positive value 'maybe' is not one of \['no', 'yes'\]"):
        fitted(["yes", "no"], positive="maybe")


def test_one_value_in_training_gets_its_opposite():
    assert fitted(["yes", "yes"]).values == ["no", "yes"]
    assert fitted(["dog"]).values == ["not dog", "dog"]


def test_more_than_two_values_is_an_error():
    with pytest.raises(
        UserError,
        match="column 'flag' has 3 different values \\(a, b, c, ...\\); .* use type: category",
    ):
        fitted(["a", "b", "c"])


def test_matching_is_case_insensitive():
    assert fitted(["yes", "no"]).transform(pd.Series(["YES", "No"])).tolist() == [1.0, 0.0]


def test_unknown_value_at_transform_names_the_row():
    with pytest.raises(UserError, match="column 'flag' row 2: 'maybe' is neither 'no' nor 'yes'"):
        fitted(["yes", "no"]).transform(pd.Series(["yes", "maybe"]))


@pytest.mark.parametrize(
    ("policy", "extra", "fill", "expected"),
    [
        ("fill_mode", {}, "yes", 1.0),
        ("fill_value", {"fill_value": False}, "no", 0.0),
        ("fill_value", {"fill_value": True}, "yes", 1.0),
    ],
)
def test_missing_value_policies_fill_and_note(policy, extra, fill, expected):
    f = fitted(["yes", "yes", "no"], missing=policy, **extra)
    assert f.transform(pd.Series([None, "no"])).tolist() == [expected, 0.0]
    assert f.notes == [f"flag: filled 1 missing values with '{fill}'"]


def test_output_uses_the_outputs_positive_setting():
    f = BinaryFeature(BinaryOutput(name="y", type="binary", positive="ham"), is_output=True)
    f.fit(pd.Series(["spam", "ham"]))
    assert f.values == ["spam", "ham"]
    assert f.transform(pd.Series(["ham"])).dtype == torch.float32


def test_state_round_trip():
    f = fitted(["b", "a", "a"])
    g = BinaryFeature(BinaryInput(name="flag", type="binary"))
    g.load_state(f.state())
    series = pd.Series(["a", None, "b"])
    assert torch.equal(g.transform(series), f.transform(series))
