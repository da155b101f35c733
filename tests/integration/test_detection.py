"""Object detection end to end on tiny generated images: train, evaluate, predict (CSV and
JSON), export to ONNX, serve, and the user's mistakes in box files (exit 2, file and row)."""

from __future__ import annotations

import base64
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests.integration.cli_helpers import modelyard

CONFIG = """task: object_detection
name: squares
data: {train: boxes.csv, validation: boxes.csv, test: boxes.csv}
model: {encoder: {type: cnn, channels: [4, 8, 8]}, neck: {stride: 4, width: 8, head_width: 8}}
augment: {zoom: [0.9, 1.1], shift: 0.05, horizontal_flip: true}
detections: {min_score: 0.0, top_k: 5}
trainer: {epochs: 2, batch_size: 8}
"""


def _canvases(folder, count: int = 16) -> None:
    """32x32 images with 1-2 squares, bright or dim, and their box table."""
    g = np.random.default_rng(0)
    (folder / "images").mkdir()
    rows = []
    for i in range(count):
        pixels = np.zeros((32, 32), np.uint8)
        for _ in range(int(g.integers(1, 3))):
            bright, side = bool(g.integers(0, 2)), int(g.integers(6, 12))
            x, y = (int(v) for v in g.integers(0, 32 - side, 2))
            pixels[y : y + side, x : x + side] = 255 if bright else 120
            rows.append(
                (f"images/{i}.png", x, y, x + side, y + side, "bright" if bright else "dim")
            )
        Image.fromarray(pixels).save(folder / f"images/{i}.png")
    frame = pd.DataFrame(rows, columns=["image", "x1", "y1", "x2", "y2", "label"])
    frame.to_csv(folder / "boxes.csv", index=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("detection")
    _canvases(folder)
    (folder / "config.yaml").write_text(CONFIG)
    modelyard("train", "config.yaml", "--output", "runs/squares", cwd=folder)
    return folder


def test_train_writes_map_metrics_history_and_overlays(trained):
    metrics = json.loads((trained / "runs/squares/metrics.json").read_text())
    for split in ("validation", "test"):
        assert {"map_50", "map", "loss", "images_per_second", "rows"} <= set(metrics[split])
        assert 0 <= metrics[split]["map"] <= metrics[split]["map_50"] <= 1
    history = pd.read_csv(trained / "runs/squares/history.csv")
    assert {"validation_map_50", "validation_map"} <= set(history.columns)
    report = (trained / "runs/squares/report.html").read_text()
    assert report.count("predicted boxes") >= 6


def test_evaluate_gives_the_metrics_of_the_run(trained):
    found = json.loads(
        modelyard("evaluate", "runs/squares", "--data", "boxes.csv", cwd=trained).stdout
    )
    recorded = json.loads((trained / "runs/squares/metrics.json").read_text())["test"]
    assert found["map_50"] == pytest.approx(recorded["map_50"])
    assert found["map"] == pytest.approx(recorded["map"])


def test_predict_writes_one_row_per_box_as_csv_and_json(trained):
    modelyard("predict", "runs/squares", "--data", "boxes.csv", "--out", "p.csv", cwd=trained)
    rows = pd.read_csv(trained / "p.csv")
    assert list(rows.columns) == ["image", "x1", "y1", "x2", "y2", "label", "score"]
    assert set(rows["label"]) <= {"bright", "dim"} and rows["image"].nunique() == 16
    assert rows["image"].str.match(r"images/\d+\.png$").all()  # as the table writes them
    assert (rows["x2"] > rows["x1"]).all() and rows["x2"].max() <= 32 and rows["x1"].min() >= 0
    assert (rows.groupby("image").size() <= 5).all()  # detections.top_k
    modelyard("predict", "runs/squares", "--data", "images", "--out", "p.json", cwd=trained)
    records = json.loads((trained / "p.json").read_text())
    assert len(records) == len(rows) and set(records[0]) == set(rows.columns)


def test_export_onnx_matches_torch_and_describes_its_output(trained):
    pytest.importorskip("onnxruntime")
    result = modelyard("export", "runs/squares", "--format", "onnx", "--out", "d.onnx", cwd=trained)
    found = json.loads(result.stdout)
    assert found["onnxruntime_max_abs_difference"] < 1e-3
    description = json.loads((trained / "d.onnx.json").read_text())
    assert description["outputs"][0]["shape"] == ["batch", 6, 8, 8]
    assert description["classes"] == ["bright", "dim"]


def test_serve_returns_boxes_for_an_uploaded_image(trained):
    from fastapi.testclient import TestClient

    from modelyard import Model

    model = Model.load(trained / "runs/squares")
    app = model.create_app(max_batch_size=8, max_wait_ms=1, max_request_bytes=2**20, api_key=None)
    client = TestClient(app)
    content = (trained / "images/0.png").read_bytes()
    uploaded = client.post("/predict/files", files={"image": ("0.png", content, "image/png")})
    assert uploaded.status_code == 200
    boxes = uploaded.json()["boxes"]
    assert boxes and set(boxes[0]) == {"x1", "y1", "x2", "y2", "label", "score"}
    sent = client.post("/predict", json={"image": base64.b64encode(content).decode()})
    assert sent.json() == uploaded.json()
    broken = client.post("/predict", json={"image": base64.b64encode(b"not an image").decode()})
    assert broken.status_code == 422 and "cannot be read" in broken.json()["detail"]
    assert client.get("/metadata").json()["classes"] == ["bright", "dim"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "images/0.png,20,20,40,30,dim",
            "boxes2.csv' row 2: box (20, 20, 40, 30) lies outside its image",
        ),
        ("images/0.png,5,5,5,9,dim", "boxes2.csv' row 2: degenerate box (5, 5, 5, 9)"),
        ("images/0.png,1,1,9,9,tiger", "boxes2.csv' row 2: unknown class 'tiger'"),
        (
            "images/nowhere.png,1,1,9,9,dim",
            "nowhere.png' does not exist",
        ),
    ],
)
def test_bad_box_files_stop_evaluate_with_file_and_row(trained, row, message):
    (trained / "boxes2.csv").write_text(
        f"image,x1,y1,x2,y2,label\nimages/1.png,1,1,9,9,dim\n{row}\n"
    )
    result = modelyard("evaluate", "runs/squares", "--data", "boxes2.csv", cwd=trained, check=2)
    assert result.stderr.startswith("error: ")
    assert message in result.stderr and "boxes2.csv' row 2" in result.stderr, result.stderr
    if "unknown class" in message:  # predict refuses a label the model does not know, too
        out = modelyard(
            "predict",
            "runs/squares",
            "--data",
            "boxes2.csv",
            "--out",
            "x.csv",
            cwd=trained,
            check=2,
        )
        assert "unknown class 'tiger'" in out.stderr


def test_missing_columns_in_the_training_file_exit_2(tmp_path):
    _canvases(tmp_path, 2)
    (tmp_path / "boxes.csv").write_text("image,left,top,x2,y2,label\nimages/0.png,1,1,5,5,dim\n")
    (tmp_path / "config.yaml").write_text(CONFIG)
    result = modelyard("train", "config.yaml", "--output", "r", cwd=tmp_path, check=2)
    assert "boxes.csv': missing column(s) x1, y1" in result.stderr
    checked = modelyard("validate", "config.yaml", cwd=tmp_path, check=2)
    assert "missing column(s) x1, y1" in checked.stderr


def test_a_finished_run_resumes_with_more_epochs(tmp_path):
    _canvases(tmp_path, 8)
    (tmp_path / "config.yaml").write_text(
        CONFIG.replace("epochs: 2,", "epochs: 1, keep_checkpoints: last, schedule: {type: step},")
    )
    modelyard("train", "config.yaml", "--output", "r", cwd=tmp_path)
    modelyard(
        "train",
        "config.yaml",
        "--output",
        "r",
        "--resume",
        "--set",
        "trainer.epochs=2",
        cwd=tmp_path,
    )
    history = pd.read_csv(tmp_path / "r/history.csv")
    assert history["epoch"].tolist() == [1, 2]
    preprocessing = json.loads((tmp_path / "r/model/preprocessing.json").read_text())
    assert preprocessing["classes"] == ["bright", "dim"]
