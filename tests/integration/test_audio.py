"""Audio classification (keyword spotting) from a table of paths and from class folders, via the CLI."""

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


def write_clips(folder: Path, count: int = 32, seed: int = 0) -> pd.DataFrame:
    """'rising' clips sweep up in pitch, 'falling' ones down; noisy, of varied length and rate.
    Returns (clip, label) rows with paths relative to folder's parent."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(count):
        label = "rising" if i % 2 else "falling"
        seconds = rng.uniform(0.2, 0.4)
        rate = RATE if i % 3 else 2 * RATE  # some files need resampling
        t = np.arange(round(seconds * rate)) / rate
        low, high = (300.0, 1500.0) if label == "rising" else (1500.0, 300.0)
        phase = 2 * np.pi * (low * t + (high - low) * t**2 / (2 * seconds))
        wave = 0.5 * np.sin(phase) + rng.normal(scale=0.05, size=len(t))
        sf.write(folder / f"{i}.wav", wave.astype(np.float32), rate)
        rows.append({"clip": f"{folder.name}/{i}.wav", "label": label})
    return pd.DataFrame(rows)


def _config(train: str, encoder: dict) -> dict:
    return {
        "name": "sounds",
        "data": {"train": train, "split": {"validation": 0.25, "test": 0.25, "seed": 0}},
        "inputs": [
            {
                "name": "clip",
                "type": "audio",
                "encoder": encoder,
                "preprocessing": {
                    "sample_rate": RATE,
                    "n_mels": 16,
                    "augment": {"time_masks": 1, "time_width": 3},
                },
            }
        ],
        "outputs": [{"name": "label", "type": "category"}],
        "combiner": {"type": "concat"},
        "trainer": {"epochs": 8, "batch_size": 8, "optimizer": {"type": "adam", "lr": 0.01}},
    }


@pytest.mark.parametrize(
    "encoder",
    [
        {"type": "cnn", "channels": [4, 8], "output_size": 16},
        {"type": "rnn", "hidden": 8, "layers": 1},
        {"type": "transformer", "dim": 16, "layers": 1, "heads": 2},
        {"type": "resnet", "channels": [4, 8], "blocks": [1, 1]},
    ],
    ids=lambda e: e["type"],
)
def test_audio_table_trains_and_predicts(tmp_path, encoder):
    write_clips(tmp_path / "clips").to_csv(tmp_path / "clips.csv", index=False)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(_config("clips.csv", encoder)))
    modelyard("train", "config.yaml", "--output", "run", cwd=tmp_path)
    metrics = json.loads((tmp_path / "run/metrics.json").read_text())
    if encoder["type"] == "cnn":
        assert metrics["test"]["accuracy"] >= 0.75  # rising vs falling pitch is easy
    modelyard("predict", "run", "--data", "clips.csv", "--out", "p.csv", cwd=tmp_path)
    predictions = pd.read_csv(tmp_path / "p.csv")
    assert len(predictions) == 32 and set(predictions["label_prediction"]) <= {"rising", "falling"}


def test_class_folder_trains_and_predicts_a_flat_folder(tmp_path):
    frame = write_clips(tmp_path / "flat", count=24)
    for row in frame.itertuples():
        target = tmp_path / "folder" / row.label
        target.mkdir(parents=True, exist_ok=True)
        (tmp_path / row.clip).rename(target / Path(row.clip).name)
    write_clips(tmp_path / "new", count=4, seed=1)
    (tmp_path / "config.yaml").write_text(
        yaml.safe_dump(_config("folder", {"type": "cnn", "channels": [4], "output_size": 8}))
    )
    result = modelyard("validate", "config.yaml", cwd=tmp_path)
    assert "output 'label': 2 classes (falling, rising)" in result.stderr
    modelyard("train", "config.yaml", "--output", "run", cwd=tmp_path)
    modelyard("predict", "run", "--data", "new", "--out", "p.jsonl", cwd=tmp_path)
    predictions = pd.read_json(tmp_path / "p.jsonl", lines=True)
    assert list(predictions.columns[:2]) == ["clip", "label_prediction"]
    assert len(predictions) == 4 and predictions["clip"].str.endswith(".wav").all()


def test_unreadable_audio_file_is_a_user_error(tmp_path):
    frame = write_clips(tmp_path / "clips", count=8)
    (tmp_path / "clips/3.wav").write_bytes(b"RIFF nonsense")
    frame.to_csv(tmp_path / "clips.csv", index=False)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(_config("clips.csv", {"type": "cnn"})))
    stderr = user_error(modelyard("train", "config.yaml", cwd=tmp_path, check=None))
    assert "audio file" in stderr and "3.wav' cannot be read" in stderr and "row 4" in stderr
