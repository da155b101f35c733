"""The bow text encoder end to end: train, predict and evaluate through the CLI, a saved run
that serves, explains and exports, and streaming giving the in-memory vocabulary."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from modelyard.api import Model
from tests.integration.cli_helpers import modelyard, user_error

pytestmark = pytest.mark.integration

TOPICS = {
    "sport": ["goal", "match", "team", "coach", "league", "score"],
    "food": ["bread", "cheese", "soup", "recipe", "oven", "salad"],
    "code": ["python", "compiler", "bug", "function", "loop", "debug"],
}


def topics(rows: int = 240, seed: int = 0) -> pd.DataFrame:
    """Short texts whose topic is told by its words only, amid shared filler words."""
    rng = np.random.default_rng(seed)
    names = list(TOPICS)
    label = rng.choice(names, size=rows)
    filler = ["the", "a", "today", "really", "my", "new", "about"]
    text = [
        " ".join(rng.permutation([*rng.choice(TOPICS[t], 2), *rng.choice(filler, 3)]))
        for t in label
    ]
    return pd.DataFrame({"id": np.arange(rows), "text": text, "topic": label})


def config(**encoder) -> dict:
    return {
        "name": "bow",
        "data": {
            "train": "data.csv",
            "split": {"validation": 0.2, "test": 0.2, "seed": 0},
            "id_columns": ["id"],
        },
        "inputs": [{"name": "text", "type": "text", "encoder": {"type": "bow"} | encoder}],
        "outputs": [{"name": "topic", "type": "category"}],
        "baselines": False,
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bow")
    topics().to_csv(folder / "data.csv", index=False)
    (folder / "config.yaml").write_text(yaml.safe_dump(config()), encoding="utf-8")
    modelyard("train", "config.yaml", "--output", "run", cwd=folder)
    topics(30, seed=1).to_csv(folder / "labelled.csv", index=False)
    return folder


def test_bow_learns_topics_and_predicts_from_the_saved_run(run):
    metrics = json.loads((run / "run/metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.95
    state = json.loads((run / "run/model/preprocessing.json").read_text())["text"]
    assert "goal" in state["grams"][0] and " go" in state["grams"][1]
    topics(30, seed=1).drop(columns="topic").to_csv(run / "new.csv", index=False)
    modelyard("predict", "run", "--data", "new.csv", "--out", "p.csv", cwd=run)
    predicted = pd.read_csv(run / "p.csv")
    truth = topics(30, seed=1)
    assert (predicted["topic_prediction"] == truth["topic"]).mean() >= 0.9
    assert list(predicted["id"]) == list(truth["id"])
    result = modelyard("evaluate", "run", "--data", "labelled.csv", cwd=run)
    assert json.loads(result.stdout)["accuracy"] >= 0.9


def test_a_loaded_run_serves_explains_and_exports(run):
    from fastapi.testclient import TestClient

    from modelyard.serve.app import create_app

    model = Model.load(run / "run")
    records = [{"text": "the coach saw a goal"}, {"text": "soup in the oven"}]
    response = TestClient(create_app(model)).post("/predict", json={"records": records})
    assert response.status_code == 200, response.text
    assert [r["topic_prediction"] for r in response.json()["predictions"]] == ["sport", "food"]

    modelyard(
        "explain", "run", "--data", "labelled.csv", "--rows", "2", "--out", "ig.json", cwd=run
    )
    row = json.loads((run / "ig.json").read_text())["rows"][0]
    tokens, text = row["attributions"]["text"]["tokens"], topics(30, seed=1)["text"][0]
    assert tokens and all(t.strip() in text for t in tokens)  # the row's own n-grams
    assert set(text.split()) & set(tokens)  # its words among them

    result = modelyard("export", "run", "--format", "onnx", "--out", "m.onnx", cwd=run)
    assert json.loads(result.stdout)["onnxruntime_max_abs_difference"] < 1e-4
    described = json.loads((run / "m.onnx.json").read_text())
    text = next(i for i in described["inputs"] if i["name"] == "text")
    assert text["shape"] == ["batch", 2, "length"] and "grams" in text["vocabulary"]


def test_streamed_training_fits_the_same_vocabulary(tmp_path):
    topics(300).to_parquet(tmp_path / "data.parquet", index=False)
    cfg = config(min_count=1) | {"trainer": {"epochs": 1}}
    cfg["data"] = {
        "train": "data.parquet",
        "streaming": True,
        "workers": 0,
        "split": {"by": "hash", "validation": 0.2, "test": 0.2},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    modelyard("train", "config.yaml", "--output", "stream", cwd=tmp_path)
    args = ["--output", "memory", "--set", "data.streaming=false"]
    modelyard("train", "config.yaml", *args, cwd=tmp_path)
    memory, stream = (
        json.loads((tmp_path / f"{n}/model/preprocessing.json").read_text())["text"]
        for n in ("memory", "stream")
    )
    assert stream == memory and len(memory["grams"][0]) > 20


def test_bow_under_a_tags_output_is_a_config_error(tmp_path):
    cfg = config() | {"outputs": [{"name": "ner", "type": "tags"}]}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    message = user_error(modelyard("validate", "c.yaml", cwd=tmp_path, check=2))
    assert "bow pools the text away, but a tags output needs a state per token" in message


def test_a_character_cnn_learns_topics(tmp_path):
    topics().to_csv(tmp_path / "data.csv", index=False)
    cfg = config() | {"trainer": {"optimizer": {"type": "adam", "lr": 0.01}}}
    cfg["inputs"][0] = {
        "name": "text",
        "type": "text",
        "encoder": {"type": "cnn", "embedding_dim": 16, "filters": 32},
        "preprocessing": {"tokenizer": "characters", "max_length": 64},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    modelyard("train", "config.yaml", "--output", "run", cwd=tmp_path)
    assert json.loads((tmp_path / "run/metrics.json").read_text())["test"]["accuracy"] >= 0.9
    tokenizer = json.loads((tmp_path / "run/model/preprocessing.json").read_text())["text"]
    assert len(json.loads(tokenizer["tokenizer"])["model"]["vocab"]) < 40  # characters
