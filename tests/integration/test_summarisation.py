"""Summarisation end to end through the real CLI: an extractive summariser learns which
sentence the summaries take (the one with a marker word, anywhere but first), and the user's
mistakes exit 2 naming what to fix."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.integration.cli_helpers import modelyard, user_error

pytestmark = pytest.mark.integration

WORDS = [
    "river",
    "stone",
    "cloud",
    "field",
    "lamp",
    "road",
    "tree",
    "wind",
    "glass",
    "rope",
    "paper",
    "horse",
]


def articles(rows: int, seed: int = 0) -> pd.DataFrame:
    """Documents of 4-6 sentences; the summary is the one sentence holding 'alpha'."""
    rng = np.random.default_rng(seed)
    table = []
    for i in range(rows):
        count = int(rng.integers(4, 7))
        sentences = [" ".join(rng.choice(WORDS, 6)).capitalize() + "." for _ in range(count)]
        key = int(rng.integers(1, count))
        sentences[key] = "Alpha " + sentences[key].lower()
        table.append({"id": i, "document": " ".join(sentences), "summary": sentences[key]})
    return pd.DataFrame(table)


def config(**summary) -> dict:
    return {
        "name": "summaries",
        "data": {
            "train": "data.csv",
            "split": {"validation": 0.2, "test": 0.2},
            "id_columns": ["id"],
        },
        "inputs": [
            {
                "name": "document",
                "type": "text",
                "preprocessing": {"tokenizer": "whitespace", "min_frequency": 1},
                "encoder": {"type": "cnn", "embedding_dim": 16, "filters": 16, "kernel_sizes": [2]},
            }
        ],
        "outputs": [
            {
                "name": "summary",
                "type": "summary",
                "max_sentences": 1,
                "scorer": {"dim": 16, "layers": 0},
                **summary,
            }
        ],
        "trainer": {
            "epochs": 12,
            "batch_size": 8,
            "optimizer": {"type": "adam", "lr": 0.01},
            "early_stopping": {"metric": "rougeL", "patience": 12},
        },
    }


def write(folder: Path, cfg: dict, table: pd.DataFrame) -> None:
    table.to_csv(folder / "data.csv", index=False)
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")


def test_extractive_summaries_beat_lead_and_textrank_then_predict_and_evaluate(tmp_path):
    write(tmp_path, config(), articles(120))
    modelyard("train", "config.yaml", "--output", "run", cwd=tmp_path)
    test = json.loads((tmp_path / "run/metrics.json").read_text())["test"]
    assert {
        "rouge1",
        "rouge2",
        "rougeL",
        "lead3_rougeL",
        "textrank_rougeL",
        "oracle_rougeL",
    } <= set(test)
    assert (
        test["rougeL"]
        > 90
        > max(test["lead_rougeL"], test["lead3_rougeL"], test["textrank_rougeL"])
    ), test
    assert test["oracle_rougeL"] == pytest.approx(100)

    articles(10, seed=1).drop(columns="summary").to_csv(tmp_path / "new.csv", index=False)
    modelyard("predict", "run", "--data", "new.csv", "--out", "out.csv", cwd=tmp_path)
    predicted = pd.read_csv(tmp_path / "out.csv")
    assert list(predicted.columns) == ["id", "summary_prediction", "summary_sentences"]
    truth = articles(10, seed=1)
    assert (predicted["summary_prediction"] == truth["summary"]).mean() >= 0.8
    chosen = [json.loads(c) for c in predicted["summary_sentences"]]
    assert all(len(c) == 1 and c[0] >= 1 for c in chosen)

    _serves_the_same_summary(tmp_path / "run", truth.loc[0, "document"], predicted.iloc[0])

    articles(20, seed=2).to_csv(tmp_path / "labelled.csv", index=False)
    modelyard("evaluate", "run", "--data", "labelled.csv", "--out", "m.json", cwd=tmp_path)
    assert json.loads((tmp_path / "m.json").read_text())["rougeL"] > 80


def _serves_the_same_summary(run: Path, document: str, predicted: pd.Series) -> None:
    """serve answers through the normal predict path: the same summary and indices."""
    from fastapi.testclient import TestClient

    from modelyard.api import Model
    from modelyard.serve.app import create_app

    with TestClient(create_app(Model.load(run))) as client:
        reply = client.post("/predict", json={"records": [{"document": document}]})
    assert reply.status_code == 200, reply.text
    (answer,) = reply.json()["predictions"]
    assert answer["summary_prediction"] == predicted["summary_prediction"]
    assert answer["summary_sentences"] == predicted["summary_sentences"]


def test_soft_oracle_labels_and_centrality_and_length_train_the_model(tmp_path):
    scorer = {"dim": 16, "layers": 0, "centrality": True, "length": True}
    write(tmp_path, config(oracle="soft", scorer=scorer), articles(120))
    modelyard("train", "config.yaml", "--output", "run", cwd=tmp_path)
    test = json.loads((tmp_path / "run/metrics.json").read_text())["test"]
    assert test["rougeL"] > 90 > test["textrank_rougeL"], test


def test_sentence_labels_from_a_column_train_the_model(tmp_path):
    table = articles(60)
    table["document"] = [json.dumps(d.split(". ")) for d in table["document"]]  # pre-split
    table["marks"] = [
        json.dumps([int(s.startswith("Alpha")) for s in json.loads(d)]) for d in table["document"]
    ]
    cfg = config(labels_column="marks")
    cfg["trainer"]["epochs"] = 2
    write(tmp_path, cfg, table)
    modelyard("train", "config.yaml", "--output", "run", cwd=tmp_path)
    assert "rougeL" in json.loads((tmp_path / "run/metrics.json").read_text())["test"]

    table.loc[4, "marks"] = "[1, 0]"  # fewer labels than sentences
    write(tmp_path, cfg, table)
    stderr = user_error(
        modelyard("train", "config.yaml", "--output", "r2", cwd=tmp_path, check=None)
    )
    assert "row 5" in stderr and "'marks'" in stderr


def test_abstractive_summaries_train_and_report_rouge_beside_the_baselines(tmp_path):
    cfg = config(
        method="abstractive",
        decoder={"dim": 16, "layers": 1, "heads": 2, "beam_size": 2, "max_length": 12},
        preprocessing={"tokenizer": "shared"},
    )
    cfg["trainer"]["epochs"] = 1
    write(tmp_path, cfg, articles(40))
    modelyard("train", "config.yaml", "--output", "run", cwd=tmp_path)
    test = json.loads((tmp_path / "run/metrics.json").read_text())["test"]
    assert {"rouge1", "rougeL", "lead3_rougeL", "textrank_rougeL"} <= set(test)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"document": {3: "   "}}, ["input 'document' row 4", "no sentences"]),
        ({"summary": {2: ""}}, ["output 'summary' row 3", "reference summary", "empty"]),
        ({"drop": "summary"}, ["no column 'summary' (output 'summary')"]),
    ],
)
def test_bad_data_is_a_user_error_naming_the_row_or_column(tmp_path, change, expected):
    """A document without sentences, an empty reference, a missing column."""
    table = articles(30)
    for column, rows in change.items():
        if column == "drop":
            table = table.drop(columns=rows)
            continue
        for row, value in rows.items():
            table.loc[row, column] = value
    write(tmp_path, config(), table)
    stderr = user_error(
        modelyard("train", "config.yaml", "--output", "run", cwd=tmp_path, check=None)
    )
    assert all(text in stderr for text in expected), stderr


def test_a_missing_labels_column_is_a_user_error(tmp_path):
    write(tmp_path, config(labels_column="marks"), articles(10))
    stderr = user_error(
        modelyard("train", "config.yaml", "--output", "run", cwd=tmp_path, check=None)
    )
    assert "labels_column 'marks' is not in the data" in stderr


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        ({"max_sentences": 0}, "max_sentences"),
        ({"max_words": -3}, "max_words"),
        ({"max_sentences": None}, "needs a length budget"),
        ({"method": "abstractive", "labels_column": "x"}, "labels_column"),
        ({"labels_column": "x", "oracle": "soft"}, "but labels_column gives the labels"),
        ({"method": "abstractive", "oracle": "soft"}, "remove oracle: soft"),
    ],
)
def test_a_bad_budget_or_key_is_a_config_error(tmp_path, summary, expected):
    write(tmp_path, config(**summary), articles(5))
    assert expected in user_error(modelyard("validate", "config.yaml", cwd=tmp_path, check=None))
