"""Images from a table of paths and from a class-per-subfolder folder, through the CLI."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from tests.conftest import write_images
from tests.integration.cli_helpers import modelyard

pytestmark = pytest.mark.integration


def _config(train: str, encoder: dict, **data) -> dict:
    return {
        "name": "images",
        "data": {"train": train, "split": {"validation": 0.25, "test": 0.25, "seed": 0}, **data},
        "inputs": [
            {
                "name": "image",
                "type": "image",
                "encoder": encoder,
                "preprocessing": {"augment": {"random_crop": 1, "horizontal_flip": True}},
            }
        ],
        "outputs": [{"name": "label", "type": "category"}],
        "combiner": {"type": "concat"},
        "trainer": {"epochs": 6, "batch_size": 8, "optimizer": {"type": "adam", "lr": 0.01}},
    }


@pytest.mark.parametrize(
    "encoder",
    [
        {"type": "cnn", "channels": [4, 8], "output_size": 16},
        {"type": "resnet", "channels": [4, 8], "blocks": [1, 1]},
        {"type": "mlp", "hidden": [16]},
    ],
    ids=lambda e: e["type"],
)
def test_image_table_trains_and_predicts(tmp_path, encoder):
    write_images(tmp_path / "pics", count=32).to_csv(tmp_path / "images.csv", index=False)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(_config("images.csv", encoder)))
    modelyard("train", "config.yaml", "--output", "run", cwd=tmp_path)
    metrics = json.loads((tmp_path / "run/metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.75  # bright vs dark is easy
    modelyard(
        "predict", "run", "--data", "images.csv", "--out", "p.csv", "--include-inputs", cwd=tmp_path
    )
    predictions, given = pd.read_csv(tmp_path / "p.csv"), pd.read_csv(tmp_path / "images.csv")
    assert len(predictions) == 32
    assert list(predictions.columns[:3]) == ["image", "label", "label_prediction"]
    assert predictions["image"].tolist() == given["image"].tolist()  # the paths, as written


def test_class_folder_trains_and_predicts(tmp_path):
    frame = write_images(tmp_path / "flat", count=24)
    for row in frame.itertuples():
        target = tmp_path / "folder" / row.label
        target.mkdir(parents=True, exist_ok=True)
        (tmp_path / row.image).rename(target / row.image.split("/")[-1])
    (tmp_path / "config.yaml").write_text(
        yaml.safe_dump(_config("folder", {"type": "cnn", "channels": [4], "output_size": 8}))
    )
    result = modelyard("validate", "config.yaml", cwd=tmp_path)
    assert "output 'label': 2 classes (bright, dark)" in result.stderr
    modelyard("train", "config.yaml", "--output", "run", cwd=tmp_path)
    modelyard(
        "predict", "run", "--data", "folder", "--out", "p.jsonl", "--include-inputs", cwd=tmp_path
    )
    predictions = pd.read_json(tmp_path / "p.jsonl", lines=True)
    assert len(predictions) == 24 and set(predictions["label_prediction"]) <= {"bright", "dark"}
    # the file path is the id; the subfolder is the label, copied beside the prediction
    assert list(predictions.columns[:3]) == ["image", "label", "label_prediction"]
    assert all(predictions["image"].str.contains(r"\.png$"))
    assert (
        predictions["image"].str.contains("/bright/") == (predictions["label"] == "bright")
    ).all()
