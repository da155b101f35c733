"""Sequence tagging through the CLI: train, predict and evaluate a tiny NER set; bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.integration.cli_helpers import modelyard, user_error
from tests.pretrained_fixtures import save_tiny_checkpoint

pytestmark = pytest.mark.integration

NAMES, PLACES, FILLER = (
    ["alice", "bob", "carol"],
    ["paris", "rome"],
    ["the", "went", "to", "saw", "a"],
)


def make_ner(rows: int = 120, seed: int = 0) -> pd.DataFrame:
    """Learnable tags: names are B-PER, places B-LOC, "new york" B-LOC I-LOC. Odd rows are
    space-separated, even rows JSON lists."""
    rng = np.random.default_rng(seed)
    data = []
    for i in range(rows):
        tokens, tags = [], []
        for _ in range(rng.integers(3, 8)):
            r = rng.random()
            if r < 0.2:
                tokens, tags = tokens + [str(rng.choice(NAMES))], tags + ["B-PER"]
            elif r < 0.3:
                tokens, tags = tokens + ["new", "york"], tags + ["B-LOC", "I-LOC"]
            elif r < 0.4:
                tokens, tags = tokens + [str(rng.choice(PLACES))], tags + ["B-LOC"]
            else:
                tokens, tags = tokens + [str(rng.choice(FILLER))], tags + ["O"]
        form = json.dumps if i % 2 == 0 else " ".join
        data.append({"id": i, "tokens": form(tokens), "ner": form(tags)})
    return pd.DataFrame(data)


def ner_config(encoder: dict | None = None, **trainer) -> dict:
    return {
        "name": "tiny_ner",
        "data": {
            "train": "data.csv",
            "split": {"validation": 0.2, "test": 0.2},
            "id_columns": ["id"],
        },
        "inputs": [
            {
                "name": "tokens",
                "type": "text",
                "encoder": encoder or {"type": "rnn", "embedding_dim": 16, "hidden": 16},
                "preprocessing": {"tokenizer": "whitespace", "min_frequency": 1},
            }
        ],
        "outputs": [{"name": "ner", "type": "tags"}],
        "trainer": {
            "epochs": 8,
            "batch_size": 16,
            "optimizer": {"type": "adam", "lr": 0.01},
            "early_stopping": {"metric": "f1_entity", "patience": 3},
        }
        | trainer,
    }


@pytest.fixture
def ner_project(tmp_path: Path) -> Path:
    make_ner().to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(ner_config()), encoding="utf-8")
    return tmp_path


def test_train_predict_evaluate_tags(ner_project):
    result = modelyard("train", "config.yaml", "--output", "run", cwd=ner_project)
    assert "val_f1_entity" in result.stderr
    metrics = json.loads((ner_project / "run/metrics.json").read_text())
    assert {"f1_entity", "precision_entity", "recall_entity", "accuracy", "loss"} <= set(
        metrics["test"]
    )
    assert metrics["test"]["f1_entity"] > 0.8  # the tags follow the words

    new = make_ner(6, seed=1)
    new.drop(columns=["ner"]).to_csv(ner_project / "new.csv", index=False)
    modelyard("predict", "run", "--data", "new.csv", "--out", "predictions.csv", cwd=ner_project)
    predictions = pd.read_csv(ner_project / "predictions.csv")
    assert list(predictions.columns) == ["id", "ner_prediction"]
    assert json.loads(predictions["ner_prediction"][0]) == json.loads(
        new["ner"][0]
    )  # JSON in, JSON out
    assert predictions["ner_prediction"][1] == new["ner"][1]  # space-separated in and out

    new.to_csv(ner_project / "labelled.csv", index=False)
    modelyard("evaluate", "run", "--data", "labelled.csv", "--out", "scores.json", cwd=ner_project)
    assert json.loads((ner_project / "scores.json").read_text())["f1_entity"] > 0.8


def test_pretrained_tagger_trains_saves_and_reloads(tmp_path):
    from modelyard import Model

    checkpoint = save_tiny_checkpoint(tmp_path / "bert", "bert")
    config = ner_config({"type": "pretrained", "model": str(checkpoint)}, epochs=1)
    config["inputs"][0]["preprocessing"] = {"max_length": 24}
    frame = make_ner(48)
    model = Model.from_config(config).fit(frame, output_dir=tmp_path / "run")
    predicted = model.predict(frame.head(4))["ner_prediction"]
    again = Model.load(tmp_path / "run").predict(frame.head(4))["ner_prediction"]
    assert predicted.tolist() == again.tolist()
    counts = [len(json.loads(t)) if t.startswith("[") else len(t.split()) for t in frame["ner"][:4]]
    assert [
        len(json.loads(p)) if p.startswith("[") else len(p.split()) for p in predicted
    ] == counts


def test_tag_count_that_differs_from_token_count_is_a_user_error(ner_project):
    frame = make_ner()
    frame.loc[3, "ner"] = "O O"
    frame.to_csv(ner_project / "data.csv", index=False)
    message = user_error(modelyard("train", "config.yaml", cwd=ner_project, check=None))
    assert (
        "column 'ner' row 4: 2 tags for" in message and "give exactly one tag per token" in message
    )


def test_tags_beside_another_input_is_a_config_error(ner_project):
    config = ner_config()
    config["inputs"].append({"name": "id", "type": "number"})
    (ner_project / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    message = user_error(modelyard("validate", "config.yaml", cwd=ner_project, check=None))
    assert "a tags output tags the tokens of exactly one text input" in message
