"""`modelyard export`: ONNX checked against onnxruntime, safetensors with its metadata."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from safetensors import safe_open

from modelyard.api import Model
from tests.conftest import make_table, tiny_config
from tests.integration.cli_helpers import modelyard, user_error

pytestmark = pytest.mark.integration


def _train(tmp_path, encoder: dict | None = None, preprocessing: dict | None = None):
    make_table().to_csv(tmp_path / "data.csv", index=False)
    config = tiny_config(epochs=1)
    if encoder is not None:
        config["inputs"][4]["encoder"] = encoder
    if preprocessing is not None:
        config["inputs"][4]["preprocessing"] = preprocessing
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    modelyard("train", "config.yaml", "--output", "run", cwd=tmp_path)
    return tmp_path / "run"


def test_onnx_export_matches_the_model_at_any_batch_size(tmp_path):
    run = _train(tmp_path)
    result = modelyard(
        "export",
        "run",
        "--format",
        "onnx",
        "--out",
        "out/model.onnx",
        "--data",
        "data.csv",
        cwd=tmp_path,
    )
    report = json.loads(result.stdout)
    assert report["onnxruntime_max_abs_difference"] < 1e-4
    assert "Traceback" not in result.stderr and "torchvision" not in result.stderr
    described = json.loads((tmp_path / "out/model.onnx.json").read_text())
    numbers = next(i for i in described["inputs"] if i["name"] == "__numbers__")
    assert numbers["columns"] == ["x1", "x2", "flag"] and numbers["shape"] == ["batch", 3]

    import onnxruntime

    model = Model.load(run)
    frame = make_table(rows=7, seed=3)
    inputs = model._inputs(model.preprocessing.prepare(frame, "check", labels=False))
    session = onnxruntime.InferenceSession(str(tmp_path / "out/model.onnx"))
    logits = session.run(None, {k: v.numpy() for k, v in inputs.items()})[0]  # 7 rows, not 4
    probabilities = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    expected = model.predict(frame)[["label_probability_no", "label_probability_yes"]]
    np.testing.assert_allclose(probabilities, expected.to_numpy(), atol=1e-5)


def test_onnx_export_without_data_uses_made_up_inputs(tmp_path):
    _train(tmp_path, {"type": "transformer", "dim": 8, "heads": 2, "layers": 1})
    result = modelyard("export", "run", "--format", "onnx", "--out", "m.onnx", cwd=tmp_path)
    assert json.loads(result.stdout)["onnxruntime_max_abs_difference"] < 1e-4


def test_safetensors_export_holds_weights_config_and_preprocessing(tmp_path):
    run = _train(tmp_path)
    modelyard("export", "run", "--format", "safetensors", "--out", "w.safetensors", cwd=tmp_path)
    state = Model.load(run).module.state_dict()
    with safe_open(str(tmp_path / "w.safetensors"), "pt") as f:
        assert set(f.keys()) == set(state)
        for key in state:
            assert torch.equal(f.get_tensor(key), state[key])
        metadata = f.metadata()
    assert json.loads(metadata["modelyard_config"])["name"] == "tiny"
    assert "review" in json.loads(metadata["modelyard_preprocessing"])


def test_export_errors_are_plain(tmp_path):
    _train(tmp_path, {"type": "rnn", "hidden": 8, "embedding_dim": 8})
    rnn = user_error(
        modelyard("export", "run", "--format", "onnx", "--out", "m.onnx", cwd=tmp_path, check=None)
    )
    assert "input 'review'" in rnn and "rnn" in rnn
    (tmp_path / "w.safetensors").write_text("mine", encoding="utf-8")
    taken = user_error(
        modelyard(
            "export",
            "run",
            "--format",
            "safetensors",
            "--out",
            "w.safetensors",
            cwd=tmp_path,
            check=None,
        )
    )
    assert "--overwrite" in taken
    assert (tmp_path / "w.safetensors").read_text(encoding="utf-8") == "mine"
    args = ["export", "run", "--format", "projector", "--out", "proj"]
    projector = user_error(modelyard(*args, cwd=tmp_path, check=None))
    assert "link prediction and recommendation runs" in projector
    missing = user_error(
        modelyard(
            "export", "nowhere", "--format", "onnx", "--out", "m.onnx", cwd=tmp_path, check=None
        )
    )
    assert "nowhere" in missing


def _pretrained_run(tmp_path):
    from tests.pretrained_fixtures import save_tiny_checkpoint

    checkpoint = save_tiny_checkpoint(tmp_path / "bert", "bert")
    return _train(tmp_path, {"type": "pretrained", "model": str(checkpoint)}, {"max_length": 32})


def _long_texts(rows: int = 3):
    frame = make_table(rows=rows, seed=5)
    frame["review"] = [" ".join([text] * 4) for text in frame["review"]]  # 16 words, not 4
    return frame


def test_text_length_is_dynamic_so_longer_texts_give_the_models_predictions(tmp_path):
    import onnxruntime

    run = _pretrained_run(tmp_path)
    head = make_table(rows=4)  # 4-word texts: the graph is traced on short ones
    head.to_csv(tmp_path / "head.csv", index=False)
    result = modelyard(
        "export", "run", "--format", "onnx", "--out", "m.onnx", "--data", "head.csv", cwd=tmp_path
    )
    check = json.loads(result.stdout)
    assert check["onnxruntime_max_abs_difference"] < 1e-4
    assert len(set(check["lengths"])) == 2  # checked at two lengths
    described = json.loads((tmp_path / "m.onnx.json").read_text())
    review = next(i for i in described["inputs"] if i["name"] == "review")
    assert review["shape"] == ["batch", 2, "length"]
    assert review["tokenizer"] == "model/backbones/review/"
    assert (run / review["tokenizer"] / "tokenizer.json").is_file()

    model = Model.load(run)
    frame = _long_texts()
    inputs = model._inputs(model.preprocessing.prepare(frame, "check", labels=False))
    assert inputs["review"].shape[2] > 12  # longer than any text the graph was traced on
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"))
    logits = session.run(None, {k: v.numpy() for k, v in inputs.items()})[0]
    probabilities = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    expected = model.predict(frame)[["label_probability_no", "label_probability_yes"]]
    np.testing.assert_allclose(probabilities, expected.to_numpy(), atol=1e-5)


def test_pretrained_text_exports_without_data(tmp_path):
    _pretrained_run(tmp_path)
    result = modelyard("export", "run", "--format", "onnx", "--out", "m.onnx", cwd=tmp_path)
    check = json.loads(result.stdout)
    assert check["onnxruntime_max_abs_difference"] < 1e-4 and len(set(check["lengths"])) == 2
