"""Question answering end to end through the CLI with a tiny random BERT checkpoint: train,
metrics.json, evaluate, predict, serve, explain; and bad input (exit 2)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from tests.integration.cli_helpers import modelyard, user_error
from tests.qa_fixtures import rows, save_tiny_qa_checkpoint

pytestmark = pytest.mark.integration


def _write(tmp_path, train=None, **settings) -> str:
    save_tiny_qa_checkpoint(tmp_path / "bert")
    tables = {"train": train or rows(36), "validation": rows(6, 36), "test": rows(6, 42)}
    for name, table in tables.items():
        pd.DataFrame(table).to_json(tmp_path / f"{name}.jsonl", orient="records", lines=True)
    config = {
        "name": "qa",
        "task": "question_answering",
        "data": {"train": "train.jsonl", "validation": "validation.jsonl", "test": "test.jsonl"},
        "model": {"pretrained": "bert"},
        "windows": {"max_length": 20, "stride": 4},
        "trainer": {"epochs": 2, "batch_size": 8, "optimizer": {"type": "adamw", "lr": 0.003}},
    }
    for key, value in settings.items():
        config[key] = value
    (tmp_path / "qa.yaml").write_text(yaml.safe_dump(config))
    return "qa.yaml"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("qa")
    config = _write(tmp_path)
    modelyard("train", config, "--output", "runs/qa", cwd=tmp_path)
    return tmp_path


def test_training_writes_squad_metrics_and_a_transformers_checkpoint(trained):
    metrics = json.loads((trained / "runs/qa/metrics.json").read_text())
    for split in ("validation", "test"):
        assert {"exact_match", "f1", "loss"} <= set(metrics[split])
        assert 0 <= metrics[split]["f1"] <= 100 and metrics[split]["rows"] == 6
        assert metrics[split]["windows"] > 6  # contexts longer than one window of 20 tokens
    from transformers import AutoModelForQuestionAnswering

    assert AutoModelForQuestionAnswering.from_pretrained(str(trained / "runs/qa/model"))
    history = pd.read_csv(trained / "runs/qa/history.csv")
    assert "validation_f1" in history.columns and len(history) >= 1


def test_predict_writes_answers_that_are_spans_of_their_contexts(trained):
    modelyard("predict", "runs/qa", "--data", "test.jsonl", "--out", "p.csv", cwd=trained)
    found = pd.read_csv(trained / "p.csv", keep_default_na=False)
    test = pd.read_json(trained / "test.jsonl", lines=True)
    assert list(found.columns) == [
        "id",
        "prediction",
        "prediction_start",
        "prediction_end",
        "prediction_score",
    ]
    assert found["id"].tolist() == test["id"].tolist()
    for context, (_, row) in zip(test["context"], found.iterrows(), strict=True):
        assert context[row.prediction_start : row.prediction_end] == str(row.prediction)
        assert 0 <= row.prediction_score <= 1


def test_evaluate_gives_the_metrics_of_the_run(trained):
    result = modelyard("evaluate", "runs/qa", "--data", "test.jsonl", cwd=trained)
    found = json.loads(result.stdout)
    recorded = json.loads((trained / "runs/qa/metrics.json").read_text())["test"]
    assert found["f1"] == pytest.approx(recorded["f1"])
    assert found["exact_match"] == pytest.approx(recorded["exact_match"])


def test_serve_answers_a_question_on_a_context(trained):
    from fastapi.testclient import TestClient

    from modelyard import Model

    model = Model.load(trained / "runs/qa")
    app = model.create_app(max_batch_size=8, max_wait_ms=1, max_request_bytes=2**20, api_key=None)
    client = TestClient(app)
    context = "a dog ran far . the cat sat in the park today ."
    answer = client.post(
        "/predict", json={"question": "where did the cat sit ?", "context": context}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert context[body["start"] : body["end"]] == body["answer"] and 0 <= body["score"] <= 1
    assert client.post("/predict", json={"question": "", "context": context}).status_code == 422
    many = client.post(
        "/predict", json={"records": [{"question": "where ?", "context": context}] * 2}
    )
    assert len(many.json()["predictions"]) == 2


def test_explain_attributes_start_and_end_to_the_window_tokens(trained):
    pytest.importorskip("captum")
    modelyard(
        "explain", "runs/qa", "--data", "test.jsonl", "--rows", "2", "--out", "e.json", cwd=trained
    )
    found = json.loads((trained / "e.json").read_text())
    assert len(found["rows"]) == 2 and set(found["global"]) == {"start", "end"}
    start = found["rows"][0]["attributions"]["start"]
    assert len(start["tokens"]) == len(start["scores"]) and start["tokens"][0] == "[CLS]"
    assert any(s != 0 for s in start["scores"])


def _bad(tmp_path, table, **settings):
    config = _write(tmp_path, train=table, **settings)
    return user_error(modelyard("train", config, cwd=tmp_path, check=None))


def test_an_answer_not_in_its_context_is_an_error_naming_the_row(tmp_path):
    table = rows(8)
    table[4]["answer"] = "the moon"
    assert "train data row 5: the answer 'the moon'" in _bad(tmp_path, table)


def test_a_long_context_without_stride_is_an_error(tmp_path):
    stderr = _bad(tmp_path, rows(8), windows={"max_length": 16})
    assert "train data row 1:" in stderr and "windows.stride" in stderr


def test_an_empty_question_is_an_error(tmp_path):
    table = rows(8)
    table[2]["question"] = "  "
    assert "train data row 3: the question (column 'question') is empty" in _bad(tmp_path, table)


def test_a_missing_column_is_an_error(tmp_path):
    table = [{k: v for k, v in r.items() if k != "context"} for r in rows(8)]
    assert "no column 'context'" in _bad(tmp_path, table)


def test_our_own_pretrained_bert_fine_tunes_for_question_answering(tmp_path):
    """A `task: language_model` BERT's model/ folder is a checkpoint QA starts from."""
    text = [r["question"] + " " + r["context"] for r in rows(60)]
    (tmp_path / "corpus.txt").write_text("\n".join(text))
    lm = {
        "name": "bert",
        "task": "language_model",
        "corpus": {"train": ["corpus.txt"]},
        "tokenizer": {"vocab_size": 120},
        "model": {"architecture": "bert", "hidden": 32, "layers": 2, "heads": 2},
        "block_size": 24,
        "trainer": {"epochs": 1, "batch_size": 32},
    }
    (tmp_path / "lm.yaml").write_text(yaml.safe_dump(lm))
    modelyard("train", "lm.yaml", "--output", "runs/bert", cwd=tmp_path)
    config = _write(tmp_path, model={"pretrained": "runs/bert/model"})
    settings = yaml.safe_load((tmp_path / config).read_text())
    settings["trainer"]["epochs"] = 1
    settings["windows"] = {"max_length": 24, "stride": 4}
    (tmp_path / config).write_text(yaml.safe_dump(settings))
    modelyard("train", config, "--output", "runs/qa", cwd=tmp_path)
    assert "f1" in json.loads((tmp_path / "runs/qa/metrics.json").read_text())["test"]
