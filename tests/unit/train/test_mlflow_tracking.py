"""MLflow tracking's pure parts: store paths, params, config checks (no MLflow needed;
tests/integration/test_mlflow.py records real runs)."""

from __future__ import annotations

import pytest

from modelyard import Model
from modelyard.errors import ConfigError
from modelyard.train.mlflow_tracking import flat_params, metric_name, resolve_uri


def _config(**tracking) -> dict:
    return {
        "inputs": [{"name": "x1", "type": "number"}],
        "outputs": [{"name": "label", "type": "category"}],
        "tracking": tracking,
    }


@pytest.mark.parametrize(
    ("tracking", "message"),
    [
        ({"mlflow_experiment": "x"}, "tracking.mlflow_experiment: applies to MLflow tracking"),
        ({"mlflow": "sqlite://mlruns.db"}, "names no database file; write sqlite:///"),
        ({"mlflow": "sqlite:///:memory:"}, "names no database file"),
    ],
)
def test_tracking_settings_that_cannot_work_are_config_errors(tracking, message):
    with pytest.raises(ConfigError, match=message):
        Model.from_config(_config(**tracking))


def test_relative_store_paths_start_at_the_given_folder(tmp_path):
    assert resolve_uri("sqlite:///a/m.db", tmp_path) == f"sqlite:///{tmp_path}/a/m.db"
    assert resolve_uri("sqlite:////abs/m.db", tmp_path) == "sqlite:////abs/m.db"
    assert resolve_uri("file:store", tmp_path) == (tmp_path / "store").as_uri()
    assert resolve_uri("./store", tmp_path) == (tmp_path / "store").as_uri()
    assert resolve_uri("file:///abs/store", tmp_path) == "file:///abs/store"
    assert resolve_uri("http://host:5000", tmp_path) == "http://host:5000"


def test_params_are_flat_json_and_cut_to_mlflows_limit():
    params = flat_params(
        {"trainer": {"lr": 0.1, "betas": [0.9, 0.99], "clip": None}, "inputs": [{"name": "a b"}]}
        | {"long": "x" * 7000, "empty": {}}
    )
    assert params["trainer.lr"] == "0.1"
    assert params["trainer.betas"] == "[0.9, 0.99]"
    assert params["trainer.clip"] == "null"
    assert params["inputs.0.name"] == "a b"
    assert params["empty"] == "{}"
    assert len(params["long"]) == 6000
    assert params["long"].endswith("...(truncated)")


def test_metric_names_with_fairness_groups_are_ones_mlflow_accepts():
    from mlflow.utils.validation import _validate_metric_name

    for name in ("final_test_fairness.sex.(missing).rows", "final_test_fairness.x.>50K,a.rows"):
        _validate_metric_name(metric_name(name))  # raises on a name MLflow refuses
    assert metric_name("final_test_fairness.sex.Male.accuracy") == (
        "final_test_fairness.sex.Male.accuracy"
    )
