"""`evaluation: {sensitive, mitigation}` end to end: train a tiny binary classifier whose data
favour one group, then evaluate, predict and serve it with the mitigation's thresholds; the
per-group numbers equal fairlearn's own on the same predictions; bad input exits 2."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.integration.cli_helpers import modelyard, user_error

pytestmark = pytest.mark.integration


def _table(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    """The label depends on x and on `group` (not an input); `sex` is an input."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b"], size=rows, p=[0.6, 0.4])
    x = rng.normal(size=rows) + (group == "a") * 0.8
    label = np.where(x + rng.normal(scale=0.5, size=rows) > 0.4, "yes", "no")
    return pd.DataFrame(
        {
            "id": np.arange(rows),
            "x": x.round(4),
            "sex": rng.choice(["f", "m"], size=rows),
            "group": group,
            "label": label,
        }
    )


def _config(**evaluation) -> dict:
    return {
        "name": "fair",
        "data": {
            "train": "data.csv",
            "split": {"validation": 0.3, "test": 0.3, "seed": 0},
            "id_columns": ["id"],
        },
        "inputs": [{"name": "x", "type": "number"}, {"name": "sex", "type": "category"}],
        "outputs": [{"name": "label", "type": "binary", "positive": "yes"}],
        "combiner": {"type": "mlp", "hidden": [8]},
        "trainer": {"epochs": 4, "batch_size": 32, "optimizer": {"type": "adam", "lr": 0.03}},
        "baselines": False,
        "evaluation": evaluation
        or {"sensitive": ["group", "sex"], "mitigation": {"grid_size": 100}},
    }


def _project(folder, config: dict, table: pd.DataFrame | None = None):
    (table if table is not None else _table()).to_csv(folder / "data.csv", index=False)
    (folder / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = _project(tmp_path_factory.mktemp("fair"), _config())
    modelyard("train", "config.yaml", "--output", "run", cwd=folder)
    return folder


def _test_rows(folder) -> pd.DataFrame:
    splits = json.loads((folder / "run/splits.json").read_text())
    return pd.read_csv(folder / "data.csv").iloc[splits["test"]["rows"]]


def test_metrics_json_has_per_group_figures_before_and_after(trained):
    metrics = json.loads((trained / "run/metrics.json").read_text())
    test = metrics["test"]
    for column in ("group", "sex"):
        for name in ("demographic_parity_difference", "equalized_odds_difference"):
            assert 0 <= test[f"fairness.{column}.{name}"] <= 1
            assert 0 <= test[f"mitigated.fairness.{column}.{name}"] <= 1
    assert test["fairness.group.a.rows"] + test["fairness.group.b.rows"] == test["rows"]
    # the data favour group a: the mitigation narrows the gap in selection rates (validation:
    # the rows it was fitted on)
    before = metrics["validation"]["fairness.group.demographic_parity_difference"]
    after = metrics["validation"]["mitigated.fairness.group.demographic_parity_difference"]
    assert before > 0.2 and after < before / 2
    assert 0.5 < test["mitigated.accuracy"] <= 1
    saved = json.loads((trained / "run/model/fairness.json").read_text())
    assert saved["sensitive"] == ["group", "sex"] and set(saved["outputs"]["label"]) == {
        "a,f",
        "a,m",
        "b,f",
        "b,m",
    }
    report = (trained / "run/report.html").read_text()
    assert "Per group of &#39;group&#39; (not a model input)" in report
    assert "Per group of &#39;sex&#39; (a model input)" in report


def test_per_group_numbers_equal_fairlearns_on_the_predictions(trained):
    from fairlearn.metrics import MetricFrame, demographic_parity_difference, selection_rate
    from sklearn.metrics import accuracy_score

    rows = _test_rows(trained)
    rows.to_csv(trained / "test.csv", index=False)
    modelyard("predict", "run", "--data", "test.csv", "--out", "p.csv", "--overwrite", cwd=trained)
    predicted = pd.read_csv(trained / "p.csv")
    truth = (rows["label"] == "yes").to_numpy()
    test = json.loads((trained / "run/metrics.json").read_text())["test"]
    for column, prefix in (
        ("label_prediction_unmitigated", ""),
        ("label_prediction", "mitigated."),
    ):
        decided = (predicted[column] == "yes").to_numpy()
        frame = MetricFrame(
            metrics={"accuracy": accuracy_score, "selection_rate": selection_rate},
            y_true=truth,
            y_pred=decided,
            sensitive_features=rows["group"].to_numpy(),
        )
        for group, values in frame.by_group.to_dict("index").items():
            for name, value in values.items():
                assert test[f"{prefix}fairness.group.{group}.{name}"] == pytest.approx(value)
        assert test[f"{prefix}fairness.group.demographic_parity_difference"] == pytest.approx(
            demographic_parity_difference(truth, decided, sensitive_features=rows["group"])
        )


def test_evaluate_prints_the_fairness_figures(trained):
    _test_rows(trained).to_csv(trained / "test.csv", index=False)
    printed = json.loads(modelyard("evaluate", "run", "--data", "test.csv", cwd=trained).stdout)
    test = json.loads((trained / "run/metrics.json").read_text())["test"]
    for name in ("fairness.sex.equalized_odds_difference", "mitigated.accuracy"):
        assert printed[name] == pytest.approx(test[name])


def test_predict_and_serve_need_the_sensitive_columns(trained):
    from fastapi.testclient import TestClient

    from modelyard.api import Model
    from modelyard.serve.app import create_app

    _test_rows(trained).drop(columns=["group"]).to_csv(trained / "nogroup.csv", index=False)
    args = ("predict", "run", "--data", "nogroup.csv", "--out", "q.csv")
    assert "no column 'group' (evaluation.sensitive)" in user_error(
        modelyard(*args, cwd=trained, check=None)
    )
    client = TestClient(create_app(Model.load(trained / "run")))
    assert client.get("/metadata").json()["sensitive"] == ["group"]  # sex is an input
    record = {"x": 0.1, "sex": "f"}
    missing = client.post("/predict", json={"records": [record]})
    assert missing.status_code == 422 and "group" in missing.text
    answer = client.post("/predict", json={"records": [{**record, "group": "b"}]})
    assert answer.status_code == 200
    assert "label_prediction_unmitigated" in answer.json()["predictions"][0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"evaluation": {"sensitive": ["gruop"]}}, "data.csv' has no column 'gruop' (evaluation.sensitive); did you mean 'group'?"),
        (
            {"outputs": [{"name": "x", "type": "number"}], "inputs": [{"name": "sex", "type": "category"}]},
            "per-group metrics are for classification outputs",
        ),
        (
            {"outputs": [{"name": "label", "type": "category"}]},
            "evaluation.mitigation: thresholds need a binary output",
        ),
        (
            {"data": {"train": "data.csv", "split": {"validation": 0.05, "seed": 0}}},
            "has fewer than 20 rows in the validation data (data.csv)",
        ),
    ],
)  # fmt: skip
def test_bad_input_is_a_user_error(tmp_path, change, message):
    _project(tmp_path, {**_config(), **change}, _table(rows=300))
    result = modelyard("train", "config.yaml", "--output", "run", cwd=tmp_path, check=None)
    assert message in user_error(result)
