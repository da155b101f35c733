"""Number features: fitted on train only, normalisations, missing values, bad values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from modelyard.config.schema import NumberInput, NumberOutput
from modelyard.data.features.tabular import NumberFeature
from modelyard.errors import UserError

TRAIN = pd.Series([1.0, 2.0, 3.0, 6.0])


def feature(**preprocessing) -> NumberFeature:
    return NumberFeature(NumberInput(name="x", type="number", preprocessing=preprocessing))


def fitted(series=TRAIN, **preprocessing) -> NumberFeature:
    f = feature(**preprocessing)
    f.fit(series)
    return f


def test_standard_normalisation():
    out = fitted().transform(TRAIN).numpy()
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, (TRAIN - TRAIN.mean()) / TRAIN.std(ddof=0), rtol=1e-6)


def test_minmax_normalisation():
    out = fitted(normalization="minmax").transform(TRAIN)
    torch.testing.assert_close(out, torch.tensor([0.0, 0.2, 0.4, 1.0]))


def test_no_normalisation():
    torch.testing.assert_close(
        fitted(normalization="none").transform(TRAIN), torch.tensor([1.0, 2.0, 3.0, 6.0])
    )


@pytest.mark.parametrize("normalization", ["standard", "minmax"])
def test_constant_column_does_not_divide_by_zero(normalization):
    out = fitted(pd.Series([4.0, 4.0]), normalization=normalization).transform(
        pd.Series([4.0, 5.0])
    )
    assert torch.isfinite(out).all()


def test_statistics_come_from_training_data_only():
    f = fitted()
    before = f.state()
    out = f.transform(pd.Series([100.0, -100.0, None]))
    assert f.state() == before
    assert out[0] > 10  # far outside the training range, not re-standardised


def test_strings_holding_numbers_are_parsed():
    torch.testing.assert_close(
        fitted(normalization="none").transform(pd.Series(["1.5", " 2 "])), torch.tensor([1.5, 2.0])
    )


@pytest.mark.parametrize(
    ("policy", "extra", "fill"),
    [("fill_mean", {}, 3.0), ("fill_median", {}, 2.5), ("fill_value", {"fill_value": -1.0}, -1.0)],
)
def test_missing_value_policies_fill_and_note(policy, extra, fill):
    f = fitted(normalization="none", missing=policy, **extra)
    out = f.transform(pd.Series([None, 7.0, np.nan, ""]))
    torch.testing.assert_close(out, torch.tensor([fill, 7.0, fill, fill]))
    assert f.notes == [f"x: filled 3 missing values with {fill:g}"]


def test_fit_ignores_missing_values():
    f = fitted(pd.Series([1.0, None, 3.0]), normalization="none")
    assert f.fill == 2.0


def test_drop_policy_drops_missing_rows_in_training_only():
    f = feature(missing="drop")
    assert f.drops_missing(training=True)
    assert not f.drops_missing(training=False)
    assert not feature().drops_missing(training=True)


def test_non_number_names_the_row():
    with pytest.raises(UserError, match=r"column 'x' row 3: 'abc' is not a number \(2 such rows\)"):
        fitted().transform(pd.Series(["1", "2", "abc", "x"]))


def test_infinite_value_names_the_row():
    with pytest.raises(UserError, match="column 'x' row 2: infinite value"):
        fitted().transform(pd.Series([1.0, np.inf]))


def test_rows_are_named_by_the_original_table_row():
    with pytest.raises(UserError, match="row 11:"):
        fitted().transform(pd.Series(["1", "bad"], index=[4, 10]))


def test_no_numbers_in_training_data():
    with pytest.raises(UserError, match="column 'x' has no numbers in the training data"):
        fitted(pd.Series([None, None]))


def test_output_is_standardised_and_decoded_back():
    f = NumberFeature(NumberOutput(name="y", type="number"), is_output=True)
    f.fit(TRAIN)
    np.testing.assert_allclose(f.decode(f.transform(TRAIN)), TRAIN, rtol=1e-6)
    assert f.drops_missing(training=False)


def test_state_round_trip():
    f = fitted(normalization="minmax")
    g = feature(normalization="minmax")
    g.load_state(f.state())
    torch.testing.assert_close(g.transform(TRAIN), f.transform(TRAIN))


def test_a_value_beyond_float32_is_a_user_error_naming_the_row():
    with pytest.raises(UserError, match="row 2: 1e\\+300 is too large"):
        fitted().transform(pd.Series([1.0, 1e300]))
