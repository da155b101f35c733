"""A model_type: gbdt run through the CLI: train, then evaluate, predict, serve and explain it
like any run; tools that need a network say so (exit 2)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from tests.conftest import make_table
from tests.integration.cli_helpers import modelyard, user_error

pytestmark = pytest.mark.integration


def _config(**extra) -> dict:
    return {
        "name": "trees",
        "model_type": "gbdt",
        "data": {"train": "data.csv", "split": {"validation": 0.2, "test": 0.2, "seed": 0}},
        "inputs": [
            {"name": "x1", "type": "number"},
            {"name": "x2", "type": "number"},
            {"name": "colour", "type": "category"},
            {"name": "flag", "type": "binary"},
        ],
        "outputs": [{"name": "label", "type": "category"}],
        "gbdt": {"max_iter": 20, "min_samples_leaf": 5},
        **extra,
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gbdt")
    make_table(rows=200).to_csv(folder / "data.csv", index=False)
    (folder / "config.yaml").write_text(yaml.safe_dump(_config()), encoding="utf-8")
    modelyard("train", "config.yaml", "--output", "run", cwd=folder)
    return folder


def test_the_run_directory_is_a_runs(trained):
    run = trained / "run"
    for name in ("config.yaml", "metrics.json", "history.csv", "report.html", "splits.json"):
        assert (run / name).is_file(), name
    assert (run / "model/gbdt.pkl").is_file() and (run / "model/weights.safetensors").is_file()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] > 0.8 and metrics["test"]["rows"] == 40
    assert "gradient_boosting" in metrics["baselines"]
    history = pd.read_csv(run / "history.csv")
    assert list(history.columns) == ["epoch", "train_loss", "validation_loss"]
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert resolved["model_type"] == "gbdt" and resolved["gbdt"]["max_iter"] == 20


def test_evaluate_and_predict_agree_with_the_runs_metrics(trained):
    splits = json.loads((trained / "run/splits.json").read_text())
    table = pd.read_csv(trained / "data.csv").iloc[splits["test"]["rows"]]
    table.to_csv(trained / "test.csv", index=False)
    found = modelyard("evaluate", "run", "--data", "test.csv", cwd=trained)
    metrics = json.loads((trained / "run/metrics.json").read_text())["test"]
    assert json.loads(found.stdout)["accuracy"] == pytest.approx(metrics["accuracy"])
    modelyard("predict", "run", "--data", "test.csv", "--out", "p.csv", cwd=trained)
    predicted = pd.read_csv(trained / "p.csv")
    accuracy = (predicted["label_prediction"] == table["label"].to_numpy()).mean()
    assert accuracy == pytest.approx(metrics["accuracy"])
    total = predicted["label_probability_no"] + predicted["label_probability_yes"]
    assert total.to_numpy() == pytest.approx(1.0, abs=1e-5)


def test_serve_gives_the_predictions_of_predict(trained):
    from fastapi.testclient import TestClient

    from modelyard.api import Model
    from modelyard.serve.app import create_app

    model = Model.load(trained / "run")
    frame = make_table(rows=5, seed=3)
    records = frame[["x1", "x2", "colour", "flag"]].to_dict(orient="records")
    response = TestClient(create_app(model)).post("/predict", json={"records": records})
    assert response.status_code == 200, response.text
    got = [p["label_probability_yes"] for p in response.json()["predictions"]]
    expected = model.predict(frame, ids=False)["label_probability_yes"]
    assert got == pytest.approx(list(expected), abs=1e-6)


def test_permutation_importance_works_and_network_tools_say_what_to_do(trained):
    modelyard(
        "explain", "run", "--data", "data.csv", "--method", "permutation", "--out", "e.json",
        cwd=trained,
    )  # fmt: skip
    found = json.loads((trained / "e.json").read_text())["global"]
    assert max(found, key=found.get) in ("x1", "colour")  # what the label depends on
    gradients = modelyard(
        "explain", "run", "--data", "data.csv", "--out", "g.json", cwd=trained, check=None
    )
    assert "use --method permutation" in user_error(gradients)
    onnx = modelyard(
        "export", "run", "--format", "onnx", "--out", "m.onnx", cwd=trained, check=None
    )
    assert "a gbdt run has none" in user_error(onnx)
    compress = (
        "compress",
        "run",
        "--method",
        "quantize",
        "--output",
        "small",
        "--data",
        "data.csv",
    )
    assert "a gbdt run has none" in user_error(modelyard(*compress, cwd=trained, check=None))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"inputs": [{"name": "review", "type": "text"}]},
            "inputs[0]: input 'review' is text, but model_type gbdt takes only number, binary, category inputs",
        ),
        (
            {"model_type": "neural"},
            "gbdt: applies to model_type: gbdt, but model_type is neural",
        ),
        ({"trainer": {"strategy": "fsdp"}}, "trainer.strategy: fsdp shards a network"),
    ],
    ids=["text input", "gbdt without model_type", "fsdp"],
)
def test_config_mistakes_exit_2_naming_the_key(tmp_path, change, message):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(_config(**change)), encoding="utf-8")
    assert message in user_error(modelyard("validate", "config.yaml", cwd=tmp_path, check=None))


@pytest.mark.parametrize("name", ["penguins", "wine", "breast_cancer"])
def test_bundled_gbdt_examples_train(name, tmp_path):
    from pathlib import Path

    config = Path(__file__).resolve().parents[2] / "examples" / name / "gbdt.yaml"
    modelyard("train", str(config), "--output", "run", "--set", "gbdt.max_iter=5", cwd=tmp_path)
    metrics = json.loads((tmp_path / "run/metrics.json").read_text())
    assert metrics["test"]["accuracy"] > 0.7
    assert len(pd.read_csv(tmp_path / "run/history.csv")) == 5
