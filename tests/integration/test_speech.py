"""Speech to text (ctc decoder over an audio input) through the CLI, on tone 'speech':
each letter is a tone burst of its own pitch, a space is a pause."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from tests.integration.cli_helpers import modelyard, user_error

pytestmark = pytest.mark.integration
RATE = 8000
TONES = {"a": 400.0, "b": 1000.0, "c": 2200.0}
WORDS = ["ab", "ca", "bc", "a", "cab"]


def say(text: str, rng: np.random.Generator) -> np.ndarray:
    """Tone bursts of 60-90 ms per letter with short gaps; 120 ms of silence per space."""
    parts = [np.zeros(int(0.05 * RATE))]
    for letter in text:
        if letter == " ":
            parts.append(np.zeros(int(0.12 * RATE)))
            continue
        t = np.arange(int(rng.uniform(0.06, 0.09) * RATE)) / RATE
        parts += [0.5 * np.sin(2 * np.pi * TONES[letter] * t), np.zeros(int(0.03 * RATE))]
    wave = np.concatenate(parts)
    return (wave + rng.normal(scale=0.02, size=len(wave))).astype(np.float32)


def write_utterances(root: Path, count: int = 64, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    (root / "wav").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(count):
        text = " ".join(rng.choice(WORDS, size=rng.integers(1, 3)))
        sf.write(root / f"wav/{i}.wav", say(text, rng), RATE)
        rows.append({"id": i, "audio": f"wav/{i}.wav", "text": text})
    return pd.DataFrame(rows)


def _config(**decoder) -> dict:
    return {
        "name": "tones",
        "data": {
            "train": "speech.csv",
            "split": {"validation": 0.2, "test": 0.2, "seed": 0},
            "id_columns": ["id"],
        },
        "inputs": [
            {
                "name": "audio",
                "type": "audio",
                "encoder": {"type": "rnn", "hidden": 32, "layers": 1, "subsample": 2},
                "preprocessing": {"sample_rate": RATE, "n_mels": 20},
            }
        ],
        "outputs": [
            {
                "name": "text",
                "type": "text",
                "decoder": {"type": "ctc", **decoder},
                "preprocessing": {"tokenizer": "characters"},
            }
        ],
        "trainer": {"epochs": 60, "batch_size": 8, "optimizer": {"type": "adam", "lr": 0.01}},
    }


def test_ctc_trains_evaluates_and_predicts_transcripts(tmp_path):
    write_utterances(tmp_path, count=48).to_csv(tmp_path / "speech.csv", index=False)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(_config(beam_size=3)))
    modelyard("train", "config.yaml", "--output", "run", cwd=tmp_path)
    metrics = json.loads((tmp_path / "run/metrics.json").read_text())
    assert set(metrics["test"]) == {"loss", "wer", "cer", "rows"}
    assert metrics["test"]["cer"] < 0.3  # tone letters are easy; typically 0.0
    modelyard("predict", "run", "--data", "speech.csv", "--out", "p.csv", cwd=tmp_path)
    predictions = pd.read_csv(tmp_path / "p.csv", keep_default_na=False)
    assert list(predictions.columns) == ["id", "text_prediction"] and len(predictions) == 48
    assert set("".join(predictions["text_prediction"])) <= set("abc ")
    result = modelyard("evaluate", "run", "--data", "speech.csv", cwd=tmp_path)
    assert "wer" in result.stdout


def test_an_empty_transcript_is_a_user_error_naming_the_row(tmp_path):
    """A clip without its transcript is broken data, whatever data.missing_labels says."""
    frame = write_utterances(tmp_path, count=8)
    frame.loc[5, "text"] = " "
    frame.to_csv(tmp_path / "speech.csv", index=False)
    config = _config()
    config["data"]["split"] = {"validation": 0, "test": 0}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    stderr = user_error(modelyard("validate", "config.yaml", cwd=tmp_path, check=None))
    assert "row 6: the target text in column 'text' is empty" in stderr


def test_ctc_needs_one_audio_input(tmp_path):
    config = _config()
    config["inputs"].append({"name": "id", "type": "number"})
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    stderr = user_error(modelyard("validate", "config.yaml", cwd=tmp_path, check=None))
    assert "a text output with a ctc decoder transcribes one audio input" in stderr
