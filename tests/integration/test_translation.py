"""Translation end to end through the real CLI: a tiny encoder-decoder learns to reverse digits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.integration.cli_helpers import modelyard, user_error

pytestmark = pytest.mark.integration


def digits(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(rows):
        text = [str(d) for d in rng.integers(0, 10, rng.integers(2, 6))]
        pairs.append({"id": i, "digits": " ".join(text), "reversed": " ".join(reversed(text))})
    return pd.DataFrame(pairs)


def config(**changes) -> dict:
    small = {"dim": 32, "layers": 1, "heads": 2, "dropout": 0.0}
    base = {
        "name": "reverse",
        "data": {
            "train": "data.csv",
            "split": {"validation": 0.1, "test": 0.1},
            "id_columns": ["id"],
        },
        "inputs": [
            {
                "name": "digits",
                "type": "text",
                "encoder": {"type": "transformer", **small},
                "preprocessing": {"tokenizer": "whitespace", "min_frequency": 1},
            }
        ],
        "outputs": [
            {
                "name": "reversed",
                "type": "text",
                "decoder": {"type": "transformer", **small, "beam_size": 3, "max_length": 10},
                "preprocessing": {"tokenizer": "characters"},
                "label_smoothing": 0.0,
            }
        ],
        "trainer": {
            "epochs": 25,
            "batch_size": 32,
            "optimizer": {"type": "adam", "lr": 0.005},
            "early_stopping": {"metric": "bleu", "patience": 25},
        },
    }
    base.update(changes)
    return base


def write(folder: Path, cfg: dict, table: pd.DataFrame) -> None:
    table.to_csv(folder / "data.csv", index=False)
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")


def test_learns_to_reverse_digits_then_predicts_and_evaluates(tmp_path):
    write(tmp_path, config(), digits(500))
    modelyard("train", "config.yaml", "--output", "run", cwd=tmp_path)
    metrics = json.loads((tmp_path / "run/metrics.json").read_text())
    assert set(metrics["test"]) == {"loss", "bleu", "chrf", "rows"}
    assert metrics["test"]["bleu"] > 80 and metrics["test"]["chrf"] > 80, metrics
    history = pd.read_csv(tmp_path / "run/history.csv")
    assert history["validation_bleu"].iloc[-1] > history["validation_bleu"].iloc[0]

    digits(20, seed=1).drop(columns="reversed").to_csv(tmp_path / "new.csv", index=False)
    modelyard("predict", "run", "--data", "new.csv", "--out", "out.csv", cwd=tmp_path)
    predicted = pd.read_csv(tmp_path / "out.csv", dtype=str)
    assert list(predicted.columns) == ["id", "reversed_prediction"]
    truth = digits(20, seed=1)["reversed"]
    assert (predicted["reversed_prediction"] == truth).mean() >= 0.8

    digits(40, seed=2).to_csv(tmp_path / "labelled.csv", index=False)
    modelyard("evaluate", "run", "--data", "labelled.csv", "--out", "m.json", cwd=tmp_path)
    assert json.loads((tmp_path / "m.json").read_text())["bleu"] > 80


def test_a_decoder_needs_one_text_input(tmp_path):
    cfg = config()
    cfg["inputs"].append({"name": "extra", "type": "number"})
    write(tmp_path, cfg, digits(20).assign(extra=1.0))
    assert "exactly one text input" in user_error(
        modelyard("validate", "config.yaml", cwd=tmp_path, check=None)
    )


def test_an_empty_target_is_a_user_error_naming_the_row(tmp_path):
    cfg = config(data={"train": "data.csv"})
    table = digits(20)
    table.loc[3, "reversed"] = ""
    write(tmp_path, cfg, table)
    stderr = user_error(
        modelyard("train", "config.yaml", "--output", "run", cwd=tmp_path, check=None)
    )
    assert "row 4" in stderr and "'reversed'" in stderr
