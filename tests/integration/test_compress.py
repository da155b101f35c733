"""`modelyard compress`: each method writes a run that loads, predicts and matches its table."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import yaml

from modelyard.api import Model
from modelyard.compress import prune, quantize
from tests.conftest import make_table, tiny_config
from tests.integration.cli_helpers import modelyard, user_error

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A trained tiny run (text mlp encoder, mlp combiner), test data and a student config."""
    folder = tmp_path_factory.mktemp("compress")
    make_table(200).to_csv(folder / "data.csv", index=False)
    make_table(80, seed=5).to_csv(folder / "test.csv", index=False)
    config = tiny_config(epochs=3)
    config["inputs"][4]["encoder"] = {"type": "mlp", "embedding_dim": 8, "hidden": [16]}
    config["combiner"] = {"type": "mlp", "hidden": [32, 16]}
    (folder / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    student = tiny_config(epochs=4)
    student.pop("data")
    student["inputs"][4]["encoder"] = {"type": "mlp", "embedding_dim": 4, "hidden": [4]}
    student["combiner"] = {"type": "concat"}
    (folder / "student.yaml").write_text(yaml.safe_dump(student), encoding="utf-8")
    modelyard("train", "config.yaml", "--output", "run", cwd=folder)
    return folder


def _compress(project, *args: str, check: int | None = 0):
    return modelyard(
        "compress", "run", "--data", "test.csv", "--repeats", "3", *args, cwd=project, check=check
    )


def _table(run) -> dict:
    summary = json.loads((run / "compression.json").read_text())
    return {r["figure"]: r for r in summary["table"]}


def test_quantize_keeps_accuracy_shrinks_linear_weights_and_reloads_identically(project):
    result = _compress(project, "--method", "quantize", "--output", "int8")
    assert "| linear_weight_bytes |" in result.stdout
    rows = _table(project / "int8")
    assert rows["accuracy"]["after"] >= rows["accuracy"]["before"] - 0.03
    assert rows["linear_weight_bytes"]["ratio"] < 0.5
    assert (project / "int8/model/quantization.json").is_file()
    assert (project / "int8/compression.md").read_text().startswith("quantize:")

    in_memory = Model.load(project / "run")
    in_memory.module = quantize.quantize(in_memory.module)
    test = pd.read_csv(project / "test.csv")
    pd.testing.assert_frame_equal(
        Model.load(project / "int8").predict(test), in_memory.predict(test)
    )
    evaluated = json.loads(modelyard("evaluate", "int8", "--data", "test.csv", cwd=project).stdout)
    assert evaluated["accuracy"] == rows["accuracy"]["after"]

    reloaded = Model.load(project / "int8")
    reloaded.save(project / "int8_again")  # a reloaded quantized model saves again
    pd.testing.assert_frame_equal(
        Model.load(project / "int8_again").predict(test), in_memory.predict(test)
    )
    modelyard("export", "int8", "--format", "safetensors", "--out", "int8.safetensors", cwd=project)


def test_structured_prune_shrinks_the_model_and_reloads_identically(project):
    _compress(project, "--method", "prune", "--structured", "--amount", "0.5", "--output", "pruned")
    rows = _table(project / "pruned")
    assert rows["parameters"]["after"] < 0.7 * rows["parameters"]["before"]
    assert rows["weights_bytes"]["ratio"] < 1
    saved = yaml.safe_load((project / "pruned/config.yaml").read_text())
    assert saved["combiner"]["hidden"] == [16, 8]

    in_memory, _ = prune.structured(Model.load(project / "run"), 0.5)
    test = pd.read_csv(project / "test.csv")
    pd.testing.assert_frame_equal(
        Model.load(project / "pruned").predict(test), in_memory.predict(test)
    )


def test_prune_with_fine_tuning_trains_and_writes_the_history(project):
    _compress(
        project,
        "--method",
        "prune",
        "--amount",
        "0.6",
        "--train",
        "data.csv",
        "--epochs",
        "2",
        "--output",
        "sparse",
    )
    history = pd.read_csv(project / "sparse/history.csv")
    assert list(history["epoch"]) == [1, 2]
    rows = _table(project / "sparse")
    assert rows["nonzero_parameters"]["ratio"] < 0.7 and rows["parameters"]["ratio"] == 1
    assert rows["accuracy"]["after"] > 0.8


def test_distilled_student_learns_and_its_run_loads(project):
    args = [
        "--method",
        "distill",
        "--student",
        "student.yaml",
        "--train",
        "data.csv",
        "--output",
        "student",
    ]
    _compress(project, *args, "--temperature", "2", "--alpha", "0.7")
    rows = _table(project / "student")
    assert rows["accuracy"]["after"] > 0.8  # chance is about 0.5
    assert rows["parameters"]["ratio"] < 0.5
    metrics = Model.load(project / "student").evaluate(project / "test.csv")
    assert metrics["accuracy"] == rows["accuracy"]["after"]


def test_user_errors(project):
    assert "known: distill, prune, quantize" in user_error(
        _compress(project, "--method", "zip", "--output", "x", check=None)
    )
    (project / "taken").mkdir(exist_ok=True)
    (project / "taken/file.txt").write_text("mine")
    message = user_error(
        _compress(project, "--method", "quantize", "--output", "taken", check=None)
    )
    assert "--overwrite" in message and (project / "taken/file.txt").is_file()
    missing = modelyard(
        "compress", "run", "--method", "quantize", "--output", "y", cwd=project, check=None
    )
    assert "--data is required" in user_error(missing)
    assert "--student" in user_error(
        _compress(project, "--method", "distill", "--output", "z", check=None)
    )


def test_structured_pruning_of_an_unsupported_architecture_is_a_user_error(project, tmp_path):
    shutil.copy(project / "data.csv", tmp_path / "data.csv")
    shutil.copy(project / "test.csv", tmp_path / "test.csv")
    config = tiny_config(epochs=1)  # text cnn encoder
    config["combiner"] = {"type": "concat"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    modelyard("train", "config.yaml", "--output", "run", cwd=tmp_path)
    result = _compress(tmp_path, "--method", "prune", "--structured", "--output", "p", check=None)
    assert "review (TextCnn)" in user_error(result) and not (tmp_path / "p").exists()


def _cli(capsys, *args: str):
    """`modelyard ARGS` in this process (no subprocess start-up), as a CompletedProcess."""
    from subprocess import CompletedProcess

    from modelyard.cli import main

    code = main(list(args))
    captured = capsys.readouterr()
    return CompletedProcess(args, code, captured.out, captured.err)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--method", "prune", "--amount", "1.5"], "--amount 1.5"),
        (["--method", "prune", "--amount", "nan"], "--amount nan"),
        (["--method", "prune", "--epochs", "-1"], "--epochs -1"),
        (["--method", "prune", "--epochs", "2"], "needs --train"),
        (["--method", "prune", "--repeats", "0"], "--repeats must be at least 1"),
        (["--method", "quantize", "--amount", "0.3"], "--amount applies to --method prune"),
        (["--method", "prune", "--student", "s.yaml"], "--student applies to --method distill"),
        (["--method", "distill", "--student", "s.yaml"], "--train PATH"),
        (
            ["--method", "distill", "--student", "s.yaml", "--train", "t.csv", "--epochs", "0"],
            "--epochs 0",
        ),
        (
            [
                "--method",
                "distill",
                "--student",
                "s.yaml",
                "--train",
                "t.csv",
                "--temperature",
                "0",
            ],
            "--temperature 0",
        ),
        (
            ["--method", "distill", "--student", "s.yaml", "--train", "t.csv", "--alpha", "1.5"],
            "--alpha 1.5",
        ),
    ],
)
def test_bad_compress_options_are_user_errors(capsys, args, expected):
    result = _cli(capsys, "compress", "nowhere", "--output", "out", "--data", "d.csv", *args)
    assert expected in user_error(result)


def test_a_student_that_does_not_match_the_teacher_is_refused(project, capsys, monkeypatch):
    monkeypatch.chdir(project)
    base = yaml.safe_load((project / "student.yaml").read_text())
    changes = {
        "outputs": lambda c: c["outputs"][0].update(type="binary"),
        "inputs must be the teacher's": lambda c: c["inputs"].pop(1),
        "must read the teacher's column 'colour'": lambda c: c["inputs"][2].update(column="x1"),
        "x1 (category)": lambda c: c["inputs"][0].update(type="category"),
    }
    for expected, change in changes.items():
        config = yaml.safe_load(yaml.safe_dump(base))
        change(config)
        (project / "bad.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        args = ["--method", "distill", "--student", "bad.yaml", "--train", "data.csv"]
        result = _cli(capsys, "compress", "run", "--data", "test.csv", "--output", "bad", *args)
        assert expected in user_error(result), expected
        assert not (project / "bad").exists()
    args = ["--method", "distill", "--student", "none.yaml", "--train", "data.csv"]
    result = _cli(capsys, "compress", "run", "--data", "test.csv", "--output", "bad", *args)
    assert "none.yaml" in user_error(result)


@pytest.fixture(scope="module")
def pretrained_teacher(tmp_path_factory):
    """A run whose text input is a tiny pretrained BERT, and a student config with a small cnn."""
    from tests.pretrained_fixtures import save_tiny_checkpoint

    folder = tmp_path_factory.mktemp("teacher")
    checkpoint = save_tiny_checkpoint(folder / "bert", "bert")
    save_tiny_checkpoint(folder / "distilbert", "distilbert")
    make_table(120).to_csv(folder / "data.csv", index=False)
    make_table(40, seed=5).to_csv(folder / "test.csv", index=False)
    config = tiny_config(epochs=1)
    config["inputs"][4]["encoder"] = {"type": "pretrained", "model": str(checkpoint)}
    config["inputs"][4]["preprocessing"] = {"max_length": 16}
    (folder / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    modelyard("train", "config.yaml", "--output", "run", cwd=folder)
    student = tiny_config(epochs=2)  # text cnn, its own tokenizer
    student.pop("data")
    student["combiner"] = {"type": "concat"}
    (folder / "student.yaml").write_text(yaml.safe_dump(student), encoding="utf-8")
    return folder


def test_a_pretrained_teacher_distils_into_a_small_cnn_student(pretrained_teacher):
    folder = pretrained_teacher
    args = ["--method", "distill", "--student", "student.yaml", "--train", "data.csv"]
    _compress(folder, *args, "--output", "small")
    rows = _table(folder / "small")
    assert rows["parameters"]["after"] < rows["parameters"]["before"] / 2
    saved = yaml.safe_load((folder / "small/config.yaml").read_text())
    assert saved["inputs"][4]["encoder"]["type"] == "cnn"
    assert not (folder / "small/model/backbones").exists()  # no teacher backbone under its name
    predictions = Model.load(folder / "small").predict(make_table(5, seed=9))
    assert set(predictions["label_prediction"]) <= {"yes", "no"}


def test_a_pretrained_student_gets_its_own_checkpoint(pretrained_teacher):
    folder = pretrained_teacher
    student = yaml.safe_load((folder / "config.yaml").read_text())
    student.pop("data")
    student["inputs"][4]["encoder"]["model"] = "distilbert"  # relative to the student config
    (folder / "distil.yaml").write_text(yaml.safe_dump(student), encoding="utf-8")
    args = ["--method", "distill", "--student", "distil.yaml", "--train", "data.csv"]
    _compress(folder, *args, "--epochs", "1", "--output", "distil")
    backbone = json.loads((folder / "distil/model/backbones/review/config.json").read_text())
    assert backbone["model_type"] == "distilbert"
