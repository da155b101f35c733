"""Shared fixtures: tiny data sets made on the fly (no downloads, no committed data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn.linear_model  # noqa: F401
import yaml

# scikit-learn imported once for the session: runs fit their baselines in a thread
# (baselines.worker) instead of starting a process per fit to hide that import;
# tests/unit/test_baselines.py covers the process.

WORDS_POS = ["great", "lovely", "superb", "fine", "happy"]
WORDS_NEG = ["awful", "poor", "sad", "bad", "broken"]


def make_table(rows: int = 160, seed: int = 0) -> pd.DataFrame:
    """A learnable mixed table: the label depends on x1, the colour and the text's words."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=rows)
    colour = rng.choice(["red", "green", "blue"], size=rows)
    score = x1 + (colour == "red") * 1.5 - (colour == "blue") * 1.5
    label = np.where(score > 0, "yes", "no")
    text = [" ".join(rng.choice(WORDS_POS if lab == "yes" else WORDS_NEG, size=4)) for lab in label]
    return pd.DataFrame(
        {
            "id": np.arange(rows),
            "x1": x1.round(4),
            "x2": rng.normal(size=rows).round(4),
            "colour": colour,
            "flag": rng.choice(["true", "false"], size=rows),
            "review": text,
            "label": label,
            "amount": (3 * x1 + rng.normal(scale=0.1, size=rows)).round(4),
        }
    )


def tiny_config(train: str = "data.csv", epochs: int = 3, **trainer) -> dict:
    return {
        "name": "tiny",
        "data": {
            "train": train,
            "split": {"validation": 0.2, "test": 0.2, "seed": 0},
            "id_columns": ["id"],
        },
        "inputs": [
            {"name": "x1", "type": "number"},
            {"name": "x2", "type": "number"},
            {"name": "colour", "type": "category"},
            {"name": "flag", "type": "binary"},
            {
                "name": "review",
                "type": "text",
                "encoder": {"type": "cnn", "embedding_dim": 8, "filters": 8},
                "preprocessing": {"vocab_size": 100, "min_frequency": 1},
            },
        ],
        "outputs": [{"name": "label", "type": "category"}],
        "combiner": {"type": "mlp", "hidden": [16]},
        "trainer": {
            "epochs": epochs,
            "batch_size": 16,
            "optimizer": {"type": "adam", "lr": 0.01},
            **trainer,
        },
    }


@pytest.fixture
def table() -> pd.DataFrame:
    return make_table()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """tmp_path with data.csv and config.yaml of the tiny mixed task."""
    make_table().to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(tiny_config()), encoding="utf-8")
    return tmp_path


def write_images(folder: Path, count: int = 24, size: int = 12, seed: int = 0) -> pd.DataFrame:
    """Grayscale PNGs: class 'bright' images are light, 'dark' ones dark. Returns (image, label)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    rows = []
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        label = "bright" if i % 2 else "dark"
        base = 200 if label == "bright" else 50
        pixels = np.clip(base + rng.normal(scale=20, size=(size, size)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i}.png")
        rows.append({"image": f"{folder.name}/{i}.png", "label": label})
    return pd.DataFrame(rows)
