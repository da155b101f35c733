"""`modelyard explain`: JSON and HTML written, nothing replaced unasked, plain errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from modelyard import Model
from tests.conftest import make_table, tiny_config, write_images
from tests.integration.cli_helpers import modelyard, user_error

pytestmark = pytest.mark.integration


def _train(tmp_path, config: dict, data) -> None:
    data.to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    Model.from_config(tmp_path / "config.yaml").fit(
        output_dir=tmp_path / "run"
    )  # in-process: faster


def test_explain_writes_json_and_html_and_refuses_to_overwrite(tmp_path):
    _train(tmp_path, tiny_config(epochs=1), make_table())
    args = ["explain", "run", "--data", "data.csv", "--rows", "3", "--out", "out/ig.json"]
    result = modelyard(*args, cwd=tmp_path)
    found = json.loads((tmp_path / "out/ig.json").read_text(encoding="utf-8"))
    assert found["method"] == "integrated_gradients" and found["output"] == "label"
    assert set(found["global"]) == {"x1", "x2", "colour", "flag", "review"}
    assert json.loads(result.stdout) == found["global"]
    row = found["rows"][0]
    assert row["row"] == 1 and row["id"] == {"id": 0} and row["prediction"] in ("yes", "no")
    assert len(row["attributions"]["review"]["tokens"]) == 4
    page = (tmp_path / "out/ig.html").read_text(encoding="utf-8")
    assert "review" in page and "rgba(" in page and "ig_figures/global.png" in page
    assert (tmp_path / "out/ig_figures/global.png").stat().st_size > 1000

    (tmp_path / "mine.json").write_text("mine", encoding="utf-8")
    taken = user_error(modelyard(*args[:-1], "mine.json", cwd=tmp_path, check=None))
    assert "--overwrite" in taken and "mine.json" in taken and "ig.html" not in taken
    assert (tmp_path / "mine.json").read_text(encoding="utf-8") == "mine"


def test_explain_again_with_another_out_or_overwrite(tmp_path, monkeypatch, capsys):
    """The page follows --out: a second run of a method elsewhere needs no --overwrite."""
    from modelyard.cli import main

    _train(tmp_path, tiny_config(epochs=1), make_table(40))
    monkeypatch.chdir(tmp_path)
    args = ["explain", "run", "--data", "data.csv", "--method", "permutation", "--out"]
    assert main([*args, "a.json"]) == 0
    assert main([*args, "b.json"]) == 0
    assert (tmp_path / "a.html").is_file() and (tmp_path / "b.html").is_file()
    capsys.readouterr()
    assert main([*args, "a.json"]) == 2
    taken = capsys.readouterr().err
    assert "'a.json'" in taken and "'a.html'" in taken and "--overwrite" in taken
    assert main([*args, "a.json", "--overwrite"]) == 0


def test_explain_overwrites_when_asked(tmp_path, monkeypatch, capsys):
    from modelyard.cli import main

    _train(tmp_path, tiny_config(epochs=1), make_table(60))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.json").write_text("mine", encoding="utf-8")
    args = ["explain", "run", "--data", "data.csv", "--method", "permutation", "--out", "mine.json"]
    assert main(args) == 2 and "--overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0
    permuted = json.loads((tmp_path / "mine.json").read_text(encoding="utf-8"))
    assert permuted["metric"] == "accuracy" and permuted["rows"] == [] and "std" in permuted
    assert (tmp_path / "mine.html").is_file()


def test_explain_images_saves_heatmaps(tmp_path):
    frame = write_images(tmp_path / "pics", count=16, size=10)
    config = {
        "name": "images",
        "data": {"train": "data.csv", "split": {"validation": 0.0, "test": 0.0}},
        "inputs": [{"name": "image", "type": "image", "encoder": {"type": "mlp", "hidden": [8]}}],
        "outputs": [{"name": "label", "type": "category"}],
        "trainer": {"epochs": 1, "batch_size": 8},
    }
    _train(tmp_path, config, frame)
    modelyard(
        "explain", "run", "--data", "data.csv", "--rows", "2", "--out", "e.json", cwd=tmp_path
    )
    found = json.loads((tmp_path / "e.json").read_text(encoding="utf-8"))
    path = found["rows"][1]["attributions"]["image"]
    assert path == "e_heatmaps/image_row2.npy"
    assert np.load(tmp_path / path).shape == (10, 10)
    assert (tmp_path / "e_figures/image_row2.png").is_file()


def test_explain_errors_are_plain(tmp_path):
    missing = user_error(
        modelyard(
            "explain", "nowhere", "--data", "d.csv", "--out", "e.json", cwd=tmp_path, check=None
        )
    )
    assert "run directory 'nowhere' does not exist" in missing
    unknown = user_error(
        modelyard(
            "explain",
            "nowhere",
            "--data",
            "d.csv",
            "--method",
            "magic",
            "--out",
            "e.json",
            cwd=tmp_path,
            check=None,
        )
    )
    assert "unknown explain method 'magic'" in unknown and "integrated_gradients" in unknown
    assert not (tmp_path / "e.json").exists()


def test_explain_refuses_sequence_outputs(tmp_path):
    from tests.integration.test_tagging import make_ner, ner_config

    _train(tmp_path, ner_config(epochs=1), make_ner(40))
    refused = user_error(
        modelyard(
            "explain", "run", "--data", "data.csv", "--out", "e.json", cwd=tmp_path, check=None
        )
    )
    assert "it supports category, binary, number, mask outputs" in refused and "(tags)" in refused
