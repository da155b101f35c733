"""Train, evaluate and predict through the CLI on a tiny mixed table, as a user would."""

from __future__ import annotations

import csv
import json

import pandas as pd
import pytest

from tests.conftest import make_table
from tests.integration.cli_helpers import modelyard

pytestmark = pytest.mark.integration


def test_train_writes_a_complete_run_directory(project):
    result = modelyard("train", "config.yaml", "--output", "run", cwd=project)
    run = project / "run"
    for name in (
        "config.yaml",
        "metrics.json",
        "history.csv",
        "report.html",
        "splits.json",
        "model/modelyard.json",
        "model/preprocessing.json",
        "model/weights.safetensors",
        "model/meta.json",
    ):
        assert (run / name).is_file(), name
    assert not (run / "checkpoints").exists()  # trainer.keep_checkpoints: none
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics) == {"validation", "test", "baselines"}
    for split in (metrics["validation"], metrics["test"]):
        assert {
            "accuracy",
            "precision_macro",
            "recall_macro",
            "f1_macro",
            "log_loss",
            "roc_auc",
        } <= set(split)
    assert metrics["test"]["accuracy"] > 0.7  # the task is learnable in 3 epochs
    with (run / "history.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert {"train_loss", "validation_loss", "validation_accuracy", "lr", "seconds"} <= set(rows[0])
    assert "epoch 3/3" in result.stderr
    html = (run / "report.html").read_text()
    assert "data:image/png;base64" in html and "https://" not in html


def test_predict_and_evaluate_from_the_run(project):
    modelyard("train", "config.yaml", "--output", "run", cwd=project)
    new = make_table(rows=20, seed=5).drop(columns=["label"])
    new.to_csv(project / "new.csv", index=False)
    modelyard("predict", "run", "--data", "new.csv", "--out", "out/predictions.csv", cwd=project)
    predictions = pd.read_csv(project / "out/predictions.csv")
    assert list(predictions.columns) == [
        "id",
        "label_prediction",
        "label_probability",
        "label_probability_no",
        "label_probability_yes",
    ]
    assert len(predictions) == 20 and predictions["id"].tolist() == new["id"].tolist()
    assert set(predictions["label_prediction"]) <= {"yes", "no"}
    pairs = predictions[["label_probability_no", "label_probability_yes"]]
    assert ((pairs.sum(axis=1) - 1).abs() < 1e-6).all()
    assert (predictions["label_probability"] == pairs.max(axis=1)).all()

    make_table(rows=40, seed=6).to_csv(project / "labelled.csv", index=False)
    result = modelyard(
        "evaluate", "run", "--data", "labelled.csv", "--out", "metrics.json", cwd=project
    )
    metrics = json.loads(result.stdout)
    assert metrics == json.loads((project / "metrics.json").read_text())
    assert 0.0 <= metrics["accuracy"] <= 1.0 and metrics["log_loss"] > 0


def test_set_overrides_and_resolved_config(project):
    modelyard(
        "train",
        "config.yaml",
        "--output",
        "run",
        "--set",
        "trainer.epochs=1",
        "--set",
        "combiner.hidden=[8]",
        cwd=project,
    )
    resolved = (project / "run/config.yaml").read_text()
    assert "epochs: 1" in resolved
    assert "weight_decay" in resolved  # defaults are filled in
    assert len(pd.read_csv(project / "run/history.csv")) == 1


def test_validate_reports_rows_and_classes(project):
    result = modelyard("validate", "config.yaml", cwd=project)
    assert "train: 96 rows usable of 96" in result.stderr
    assert "output 'label': 2 classes (no, yes)" in result.stderr
    assert "data is valid" in result.stderr


def test_schema_is_json_schema(project):
    schema = json.loads(modelyard("schema", cwd=project).stdout)
    tasks = [schema["$defs"][ref["$ref"].split("/")[-1]] for ref in schema["anyOf"]]
    (
        supervised,
        language_model,
        recommendation,
        link_prediction,
        question_answering,
        object_detection,
        tts,
        vocoder,
        image_generation,
    ) = tasks
    assert {"inputs", "outputs", "trainer", "data", "combiner"} <= set(supervised["properties"])
    assert {"corpus", "tokenizer", "model", "block_size", "trainer"} <= set(
        language_model["properties"]
    )
    assert {"data", "split", "model", "trainer"} <= set(recommendation["properties"])
    assert {"data", "model", "training", "trainer"} <= set(link_prediction["properties"])
    assert {"data", "windows", "trainer"} <= set(question_answering["properties"])
    assert {"data", "model", "augment", "detections"} <= set(object_detection["properties"])
    assert {"data", "front_end", "audio", "model", "evaluation"} <= set(tts["properties"])
    assert {"data", "mel", "model", "discriminators", "losses"} <= set(vocoder["properties"])
    assert {"data", "images", "model", "evaluation", "trainer"} <= set(
        image_generation["properties"]
    )
    assert all(task["additionalProperties"] is False for task in tasks)


def test_regression_and_several_outputs(project):
    import yaml

    config = yaml.safe_load((project / "config.yaml").read_text())
    config["outputs"].append({"name": "amount", "type": "number"})
    (project / "config.yaml").write_text(yaml.safe_dump(config))
    modelyard("train", "config.yaml", "--output", "run", cwd=project)
    metrics = json.loads((project / "run/metrics.json").read_text())["test"]
    assert {"label.accuracy", "amount.mse", "amount.rmse", "amount.mae", "amount.r2"} <= set(
        metrics
    )
    assert metrics["amount.rmse"] == pytest.approx(metrics["amount.mse"] ** 0.5, rel=1e-6)
    modelyard("predict", "run", "--data", "data.csv", "--out", "p.parquet", cwd=project)
    predictions = pd.read_parquet(project / "p.parquet")
    assert "amount_prediction" in predictions and "label_prediction" in predictions


def test_binary_run_reports_positive_class_model_size_and_data(project):
    """Issue 12: a binary output's precision, recall, f1 and average precision of its positive
    class; the model's size in the log, model/meta.json and the report; data_summary.json."""
    import yaml

    table = make_table()
    table.loc[:9, "x1"] = None  # filled in with the training mean
    table.loc[10:12, "label"] = None  # rows left out
    table.to_csv(project / "data.csv", index=False)
    config = yaml.safe_load((project / "config.yaml").read_text())
    config["outputs"] = [{"name": "label", "type": "binary", "positive": "yes"}]
    config["trainer"]["epochs"] = 2
    (project / "config.yaml").write_text(yaml.safe_dump(config))
    result = modelyard("train", "config.yaml", "--output", "run", cwd=project)
    run = project / "run"
    size = json.loads((run / "model/meta.json").read_text())["parameters"]
    assert size["parameters"] == size["trainable"] > 0
    assert size["bytes"] == size["bytes_per_dtype"]["float32"] > 4 * size["parameters"] - 1
    assert f"model: {size['parameters']:,} parameters ({size['trainable']:,} trainable)" in (
        result.stderr
    )
    metrics = json.loads((run / "metrics.json").read_text())
    for split in ("validation", "test"):
        found = metrics[split]
        assert {"precision", "recall", "f1", "average_precision"} <= set(found)
        assert found["positive_class"] == "yes"
    summary = json.loads((run / "data_summary.json").read_text())
    left_out = [
        s.get("left_out", {}).get("no 'label' label", 0) for s in summary["splits"].values()
    ]
    assert sum(left_out) == 3  # in whichever splits those rows fell
    assert sum(s["rows"] for s in summary["splits"].values()) == 160 - 3
    for split, counts in summary["classes"]["label"].items():
        assert (
            list(counts) == ["no", "yes"]
            and sum(counts.values()) == summary["splits"][split]["rows"]
        )
    assert summary["filled"]["x1"]["with"] == "mean"
    assert sum(summary["filled"]["x1"]["rows"].values()) == 10
    html = (run / "report.html").read_text()
    assert "Precision-recall curve (positive class &#39;yes&#39;)" in html
    assert "<h2>Data</h2>" in html and f"{size['parameters']:,} parameters" in html


def test_predict_include_inputs_copies_inputs_and_labels(project):
    modelyard("train", "config.yaml", "--output", "run", "--set", "trainer.epochs=1", cwd=project)
    labelled = make_table(rows=12, seed=5)
    labelled.insert(1, "note", "not an input")  # other columns are not copied
    labelled.to_csv(project / "labelled.csv", index=False)
    modelyard(
        "predict", "run", "--data", "labelled.csv", "--out", "p.csv", "--include-inputs",
        cwd=project,
    )  # fmt: skip
    predictions = pd.read_csv(project / "p.csv")
    inputs = ["id", "x1", "x2", "colour", "flag", "review", "label"]  # the data's own order
    assert list(predictions.columns[:8]) == [*inputs, "label_prediction"]
    pd.testing.assert_frame_equal(
        predictions[inputs], pd.read_csv(project / "labelled.csv")[inputs]
    )

    unlabelled = labelled.drop(columns=["label"])
    unlabelled.to_parquet(project / "new.parquet")
    modelyard("predict", "run", "--data", "new.parquet", "--out", "p.parquet", "--include-inputs",
              "--overwrite", cwd=project)  # fmt: skip
    predictions = pd.read_parquet(project / "p.parquet")
    assert list(predictions.columns[:7]) == [*inputs[:-1], "label_prediction"]  # no label
    pd.testing.assert_frame_equal(predictions[["x1", "review"]], unlabelled[["x1", "review"]])
    # without the option, the file is as before: ids and predictions
    modelyard("predict", "run", "--data", "labelled.csv", "--out", "plain.csv", cwd=project)
    assert list(pd.read_csv(project / "plain.csv").columns[:2]) == ["id", "label_prediction"]
    assert "--include-inputs" in modelyard("predict", "--help", cwd=project).stdout
