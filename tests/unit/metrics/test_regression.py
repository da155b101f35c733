"""Parity of modelyard.metrics regression metrics with scikit-learn called directly."""

import numpy as np
import pytest
from sklearn import metrics as sk

from modelyard.metrics import regression_details, regression_metrics


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("n", [2, 17, 500])
def test_matches_sklearn(seed, n):
    rng = np.random.default_rng(seed)
    y_true = rng.normal(3.0, 2.0, size=n)
    y_pred = y_true + rng.normal(0.0, 0.5, size=n)
    result = regression_metrics(y_true, y_pred)
    mse = sk.mean_squared_error(y_true, y_pred)
    expected = {
        "mse": mse,
        "rmse": np.sqrt(mse),
        "mae": sk.mean_absolute_error(y_true, y_pred),
        "r2": sk.r2_score(y_true, y_pred),
    }
    assert set(result) == set(expected)
    for name, value in expected.items():
        assert result[name] == pytest.approx(value, rel=1e-12), name
        assert type(result[name]) is float


@pytest.mark.parametrize("seed", [0, 1])
def test_several_targets_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    y_true = rng.normal(size=(50, 3)) * [1.0, 10.0, 0.1]
    y_pred = y_true + rng.normal(0.0, 0.3, size=(50, 3))
    result = regression_metrics(y_true, y_pred)
    assert result["mse"] == pytest.approx(sk.mean_squared_error(y_true, y_pred), rel=1e-12)
    assert result["mae"] == pytest.approx(sk.mean_absolute_error(y_true, y_pred), rel=1e-12)
    assert result["r2"] == pytest.approx(sk.r2_score(y_true, y_pred), rel=1e-12)


@pytest.mark.parametrize("y_pred", [[2.0, 2.0, 2.0], [2.0, 2.5, 2.0]])
def test_r2_of_a_constant_target_matches_sklearn(y_pred):
    y_true = np.array([2.0, 2.0, 2.0])
    expected = sk.r2_score(y_true, np.array(y_pred))
    assert regression_metrics(y_true, np.array(y_pred))["r2"] == expected


def test_hand_computed_values():
    result = regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 5.0]))
    assert result["mse"] == pytest.approx(5 / 3)
    assert result["rmse"] == pytest.approx(np.sqrt(5 / 3))
    assert result["mae"] == pytest.approx(1.0)
    assert result["r2"] == pytest.approx(1 - 5 / 2)


def test_r2_omitted_for_single_example():
    result = regression_metrics(np.array([1.0]), np.array([3.0]))
    assert result == {"mse": 4.0, "rmse": 2.0, "mae": 2.0}


def test_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        regression_metrics(np.zeros(3), np.zeros(4))


def test_details_small_input_kept_whole():
    details = regression_details(np.array([1, 2, 3]), np.array([1.5, 2.5, 2.0]))
    assert details == {"true": [1.0, 2.0, 3.0], "predicted": [1.5, 2.5, 2.0]}


def test_details_downsampled_deterministically():
    rng = np.random.default_rng(0)
    y_true = rng.normal(size=10_000)
    y_pred = y_true * 2
    first = regression_details(y_true, y_pred)
    assert len(first["true"]) == len(first["predicted"]) == 2000
    assert first == regression_details(y_true, y_pred)
    assert np.allclose(np.array(first["predicted"]), 2 * np.array(first["true"]))
    assert first["true"][0] == y_true[0] and first["true"][-1] == y_true[-1]
