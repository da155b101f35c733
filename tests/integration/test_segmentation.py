"""Semantic segmentation (`type: mask` outputs) through the CLI: train, evaluate, predict PNG
masks, export, and the bad-input messages."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from modelyard import Model
from tests.integration.cli_helpers import modelyard, user_error

pytestmark = pytest.mark.integration

CLASSES = ["square", "bar"]


def write_canvases(folder, count: int = 32, size: int = 16, seed: int = 0) -> pd.DataFrame:
    """Grayscale canvases with a bright square (class 1) and a grey bar (class 2) on black,
    and their masks (0 background); (image, mask) paths relative to `folder`'s parent."""
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(count):
        image = rng.integers(0, 30, (size, size)).astype(np.uint8)
        mask = np.zeros((size, size), np.uint8)
        y, x = rng.integers(0, size - 5, 2)
        image[y : y + 5, x : x + 5], mask[y : y + 5, x : x + 5] = 230, 1
        row = rng.integers(0, size - 2)
        image[row : row + 2, 2:-2], mask[row : row + 2, 2:-2] = 120, 2
        Image.fromarray(image).save(folder / "images" / f"{i}.png")
        Image.fromarray(mask).save(folder / "masks" / f"{i}.png")
        rows.append(
            {"image": f"{folder.name}/images/{i}.png", "mask": f"{folder.name}/masks/{i}.png"}
        )
    return pd.DataFrame(rows)


def config(**output) -> dict:
    return {
        "name": "seg",
        "data": {"train": "train.csv", "split": {"validation": 0.2, "test": 0.2, "seed": 0}},
        "inputs": [
            {
                "name": "image",
                "type": "image",
                "encoder": {"type": "cnn", "channels": [4, 8], "output_size": 4},
            }
        ],
        "outputs": [{"name": "mask", "type": "mask", "classes": CLASSES, **output}],
        "trainer": {"epochs": 12, "batch_size": 8, "optimizer": {"type": "adam", "lr": 0.03}},
    }


@pytest.fixture
def canvases(tmp_path):
    write_canvases(tmp_path / "canvas", count=40).to_csv(tmp_path / "train.csv", index=False)
    return tmp_path


def test_trains_evaluates_and_predicts_mask_files(canvases):
    (canvases / "classes.txt").write_text("square\nbar\n")
    settings = {
        "classes": "classes.txt",
        "dice_weight": 0.5,
        "augment": {"shift": 0.1, "flip": True},
        "flip_test": True,
    }
    (canvases / "config.yaml").write_text(yaml.safe_dump(config(**settings)))
    modelyard("train", "config.yaml", "--output", "run", cwd=canvases)
    assert Model.load(canvases / "run").module.flip_test  # the saved model flips when testing
    resolved = yaml.safe_load((canvases / "run/config.yaml").read_text())
    assert resolved["outputs"][0]["classes"] == CLASSES  # the file's lines, kept in the run
    test = json.loads((canvases / "run/metrics.json").read_text())["test"]
    assert test["miou"] > 0.6 and test["dice"] > 0.7, test
    assert test["miou_objects"] <= test["miou"] + 1  # present, and without background
    assert "IoU per class" in (canvases / "run/report.html").read_text()
    modelyard("predict", "run", "--data", "train.csv", "--out", "out/p.csv", cwd=canvases)
    table = pd.read_csv(canvases / "out/p.csv")
    first = canvases / "out" / table["mask_prediction"][0]
    assert first.parent.name == "p_mask" and len(table) == 40
    predicted = np.asarray(Image.open(first))
    assert predicted.shape == (16, 16) and set(np.unique(predicted)) <= {0, 1, 2}
    truth = np.asarray(Image.open(canvases / "canvas/masks/0.png"))
    assert (predicted == truth).mean() > 0.8
    result = modelyard("evaluate", "run", "--data", "train.csv", cwd=canvases)
    assert "miou" in result.stdout


@pytest.mark.parametrize("streaming", [False, True])
def test_evaluation_holds_a_class_per_pixel_and_scores_as_the_logits_would(canvases, streaming):
    """Evaluation keeps a byte per pixel (and each image's loss sums), not K float scores,
    in memory and streamed; the metrics and the loss are those of the full logits."""
    import torch

    from modelyard.evaluate import infer, score
    from modelyard.models.build import build_losses

    settings = config(dice_weight=0.5)
    settings["data"]["streaming"] = streaming
    (canvases / "config.yaml").write_text(yaml.safe_dump(settings))
    modelyard("train", "config.yaml", "--output", "run", "--set", "trainer.epochs=2", cwd=canvases)
    model = Model.load(canvases / "run")
    frame = model._as_frame(canvases / "train.csv")
    table = model.preprocessing.prepare(frame, "evaluate", lazy_files=streaming)
    kept = model._infer(table)
    full = infer(model.module, model._inputs(table), torch.device("cpu"), False, 8)
    assert full["mask"].shape == (40, 3, 16, 16) and full["mask"].dtype == torch.float32
    assert kept["mask"].dtype == torch.uint8 and kept["mask"].shape == (40, 16, 16)
    losses = build_losses(model.config, model.preprocessing)
    expected = score(model.preprocessing, full, table, losses, details=False)[0]
    found = score(model.preprocessing, kept, table, losses, details=False)[0]
    assert found == pytest.approx(expected, rel=1e-5)
    assert model.evaluate(canvases / "train.csv")["miou"] == pytest.approx(expected["miou"])


def test_predict_reads_a_folder_of_images_and_refuses_class_subfolders(canvases):
    (canvases / "config.yaml").write_text(yaml.safe_dump(config()))
    modelyard("train", "config.yaml", "--output", "run", "--set", "trainer.epochs=1", cwd=canvases)
    args = ("predict", "run", "--data", "canvas/images", "--out", "out/p.csv")
    modelyard(*args, cwd=canvases)
    table = pd.read_csv(canvases / "out/p.csv")
    assert len(table) == 40 and (canvases / "out" / table["mask_prediction"][0]).is_file()
    (canvases / "canvas/images/sub").mkdir()
    refused = user_error(modelyard(*args[:-1], "out/q.csv", cwd=canvases, check=None))
    assert "is a folder with subfolders, but the output 'mask' is a file per row" in refused


@pytest.mark.parametrize("flip_test", [False, True])
def test_exports_to_onnx(canvases, flip_test):
    settings = {**config(flip_test=flip_test), "trainer": {"epochs": 1}}
    (canvases / "config.yaml").write_text(yaml.safe_dump(settings))
    modelyard("train", "config.yaml", "--output", "run", cwd=canvases)
    modelyard("export", "run", "--format", "onnx", "--out", "seg.onnx", cwd=canvases)
    sidecar = json.loads((canvases / "seg.onnx.json").read_text())
    assert sidecar["check"]["onnxruntime_max_abs_difference"] < 1e-3
    assert "0=background, 1=square, 2=bar" in sidecar["outputs"][0]["meaning"]


def _break(root, row: int, how: str) -> None:
    path = root / f"canvas/masks/{row}.png"
    if how == "size":
        Image.fromarray(np.zeros((12, 16), np.uint8)).save(path)
    elif how == "value":
        Image.fromarray(np.full((16, 16), 7, np.uint8)).save(path)
    elif how == "missing":
        path.unlink()
    else:
        path.write_bytes(b"not a png")


@pytest.mark.parametrize(
    ("how", "says"),
    [
        ("size", "is 16x12 but its image"),
        ("value", "has the value 7, which is no class: values are 0 (background) to 2 (bar)"),
        ("missing", "does not exist"),
        ("corrupt", "cannot be read"),
    ],
)
def test_bad_masks_are_named_with_file_and_row(canvases, how, says):
    _break(canvases, 3, how)
    (canvases / "config.yaml").write_text(yaml.safe_dump(config()))
    result = modelyard("validate", "config.yaml", cwd=canvases, check=2)
    assert "error: column 'mask'" in result.stderr and "Traceback" not in result.stderr
    assert says in result.stderr and "row 4" in result.stderr and "masks/3.png" in result.stderr


def test_ignored_pixels_count_nowhere(canvases):
    mask = np.asarray(Image.open(canvases / "canvas/masks/0.png")).copy()
    mask[:3, :3] = 200
    Image.fromarray(mask).save(canvases / "canvas/masks/0.png")
    (canvases / "config.yaml").write_text(yaml.safe_dump(config(ignore=200)))
    modelyard("validate", "config.yaml", cwd=canvases)  # 200 is no class, but ignored
    (canvases / "config.yaml").write_text(yaml.safe_dump(config()))
    result = modelyard("validate", "config.yaml", cwd=canvases, check=2)
    assert "has the value 200" in result.stderr


def test_config_checks_name_what_to_change(canvases):
    raw = config()
    raw["inputs"][0]["encoder"] = {"type": "mlp"}
    raw["inputs"][0]["preprocessing"] = {"augment": {"horizontal_flip": True}}
    raw["outputs"][0]["classes"] = ["background", "bar"]
    (canvases / "config.yaml").write_text(yaml.safe_dump(raw))
    result = modelyard("validate", "config.yaml", "--config-only", cwd=canvases, check=2)
    assert "keeps no feature maps for a U-Net; use cnn or resnet" in result.stderr
    assert "use outputs[0].augment" in result.stderr
    assert "'background' is the background" in result.stderr


def test_serve_returns_the_mask_as_base64_png(canvases):
    import base64

    from fastapi.testclient import TestClient

    from modelyard.api import Model
    from modelyard.serve.app import create_app
    from modelyard.tasks.segmentation import decode_mask

    table = pd.read_csv(canvases / "train.csv")
    table = table.assign(
        image=[str(canvases / p) for p in table["image"]],
        mask=[str(canvases / p) for p in table["mask"]],
    )
    raw = {**config(), "trainer": {"epochs": 1, "batch_size": 8}}
    del raw["data"]
    model = Model.from_config(raw).fit(table, table)
    data = (canvases / "canvas/images/2.png").read_bytes()
    response = TestClient(create_app(model)).post(
        "/predict", json={"records": [{"image": base64.b64encode(data).decode()}]}
    )
    assert response.status_code == 200, response.text
    served = decode_mask(response.json()["predictions"][0]["mask_prediction"])
    expected = decode_mask(model.predict(table.iloc[2:3], ids=False)["mask_prediction"].iloc[0])
    assert served.shape == (16, 16) and np.array_equal(served, expected)


def test_explain_gives_a_heatmap_per_predicted_class(canvases):
    (canvases / "config.yaml").write_text(yaml.safe_dump(config()))
    modelyard("train", "config.yaml", "--output", "run", cwd=canvases)
    modelyard(
        "explain", "run", "--data", "train.csv", "--rows", "2", "--out", "e.json", cwd=canvases
    )
    explanation = json.loads((canvases / "e.json").read_text())
    rows = explanation["rows"]
    assert rows and {r["target"] for r in rows} <= set(CLASSES)
    heatmap = np.load(canvases / rows[0]["attributions"]["image"])
    assert heatmap.shape == (16, 16) and np.abs(heatmap).sum() > 0
    assert (canvases / "e.html").is_file()
    wrong = modelyard(
        "explain",
        "run",
        "--data",
        "train.csv",
        "--method",
        "shap",
        "--out",
        "s.json",
        cwd=canvases,
        check=2,
    )
    assert "use --method integrated_gradients" in wrong.stderr
