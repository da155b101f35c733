"""Bad input gets one plain `error:` line, exit code 2 and no traceback; nothing is overwritten."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from tests.conftest import tiny_config, write_images
from tests.integration.cli_helpers import modelyard, user_error

pytestmark = pytest.mark.integration


def _write_config(project, config: dict) -> None:
    (project / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


def test_unknown_key_wrong_type_and_unknown_component_all_reported(project):
    config = tiny_config()
    config["inputs"][4]["encoder"] = {"type": "transformer", "laers": 2}
    config["trainer"]["epochs"] = "many"
    config["combiner"] = {"type": "attention"}
    _write_config(project, config)
    message = user_error(modelyard("train", "config.yaml", cwd=project, check=None))
    assert "3 problems" in message
    assert "inputs[4].encoder.laers: unknown key; did you mean 'layers'?" in message
    assert "trainer.epochs" in message
    assert "combiner: unknown type 'attention'; known: 'mlp', 'concat'" in message


def test_yaml_syntax_error_names_the_line(project):
    (project / "config.yaml").write_text(
        "name: x\ninputs: [\n  {name: a, type: number\noutputs: []\n"
    )
    message = user_error(modelyard("validate", "config.yaml", cwd=project, check=None))
    assert "YAML syntax error at line" in message


def test_missing_config_and_missing_data_file(project):
    assert "does not exist" in user_error(modelyard("train", "nope.yaml", cwd=project, check=None))
    _write_config(project, tiny_config(train="missing.csv"))
    message = user_error(modelyard("train", "config.yaml", cwd=project, check=None))
    assert "missing.csv" in message and "does not exist" in message


@pytest.mark.parametrize("form", ["csv", "parquet"])
def test_a_missing_column_is_named_with_its_file(project, form):
    frame = pd.read_csv(project / "data.csv").drop(columns=["colour"])
    if form == "csv":
        frame.to_csv(project / "data.csv", index=False)
    else:
        frame.to_parquet(project / "data.parquet")
    command = ("validate", "config.yaml", "--set", f"data.train=data.{form}")
    message = user_error(modelyard(*command, cwd=project, check=None))
    assert f"data.{form}' has no column 'colour' (input 'colour')" in message


def test_empty_data(project):
    (project / "data.csv").write_text("")
    assert "has no rows" in user_error(modelyard("train", "config.yaml", cwd=project, check=None))


def test_missing_labels_dropped_with_a_message_or_an_error(project):
    frame = pd.read_csv(project / "data.csv")
    frame.loc[[3, 7], "label"] = None
    frame.to_csv(project / "data.csv", index=False)
    result = modelyard("validate", "config.yaml", cwd=project)
    assert "rows with no 'label' label" in result.stderr
    config = tiny_config()
    config["data"]["missing_labels"] = "error"
    _write_config(project, config)
    message = user_error(modelyard("validate", "config.yaml", cwd=project, check=None))
    assert "label 'label' is missing" in message and "row" in message


def test_not_a_number_names_row_and_column(project):
    frame = pd.read_csv(project / "data.csv")
    frame["x1"] = frame["x1"].astype(object)
    frame.loc[0, "x1"] = "abc"
    frame.to_csv(project / "data.csv", index=False)
    message = user_error(modelyard("validate", "config.yaml", cwd=project, check=None))
    assert "column 'x1'" in message and "'abc' is not a number" in message


def test_unreadable_image_is_named(tmp_path):
    frame = write_images(tmp_path / "images")
    (tmp_path / "images" / "5.png").write_bytes(b"not a png at all")
    frame.to_csv(tmp_path / "images.csv", index=False)
    config = {
        "name": "img",
        "data": {"train": "images.csv"},
        "inputs": [{"name": "image", "type": "image"}],
        "outputs": [{"name": "label", "type": "category"}],
    }
    _write_config(tmp_path, config)
    message = user_error(modelyard("validate", "config.yaml", cwd=tmp_path, check=None))
    assert "5.png" in message and "cannot be read" in message


def test_existing_run_directory_is_not_overwritten(project):
    run = project / "run"
    run.mkdir()
    (run / "precious.txt").write_text("keep me")
    message = user_error(
        modelyard("train", "config.yaml", "--output", "run", cwd=project, check=None)
    )
    assert "already exists" in message and "--overwrite" in message
    message = user_error(
        modelyard("train", "config.yaml", "--output", "run", "--overwrite", cwd=project, check=None)
    )
    assert "is not a modelyard run directory" in message
    assert (run / "precious.txt").read_text() == "keep me"
    assert "refusing" in user_error(
        modelyard("train", "config.yaml", "--output", ".", "--overwrite", cwd=project, check=None)
    )
    assert (project / "data.csv").is_file()


def test_overwrite_replaces_a_previous_run(project):
    modelyard("train", "config.yaml", "--output", "run", "--set", "trainer.epochs=2", cwd=project)
    modelyard(
        "train",
        "config.yaml",
        "--output",
        "run",
        "--overwrite",
        "--set",
        "trainer.epochs=1",
        cwd=project,
    )
    assert len(pd.read_csv(project / "run/history.csv")) == 1


def test_resume_with_a_changed_config_is_refused(project):
    keep = ("--set", "trainer.keep_checkpoints=last")  # a finished run to continue later
    modelyard(
        "train", "config.yaml", "--output", "run", "--set", "trainer.epochs=1", *keep, cwd=project
    )
    message = user_error(
        modelyard(
            "train",
            "config.yaml",
            "--output",
            "run",
            "--resume",
            "--set",
            "combiner.hidden=[8]",
            cwd=project,
            check=None,
        )
    )
    assert "combiner.hidden" in message and "only trainer.epochs may change" in message
    modelyard(
        "train",
        "config.yaml",
        "--output",
        "run",
        "--resume",
        "--set",
        "trainer.epochs=2",
        cwd=project,
    )
    assert len(pd.read_csv(project / "run/history.csv")) == 2
    assert "epochs: 2" in (project / "run/config.yaml").read_text()


def test_predict_errors(project):
    assert "does not exist" in user_error(
        modelyard(
            "predict", "no_run", "--data", "data.csv", "--out", "p.csv", cwd=project, check=None
        )
    )
    modelyard("train", "config.yaml", "--output", "run", "--set", "trainer.epochs=1", cwd=project)
    pd.read_csv(project / "data.csv").drop(columns=["review"]).to_csv(
        project / "bad.csv", index=False
    )
    message = user_error(
        modelyard("predict", "run", "--data", "bad.csv", "--out", "p.csv", cwd=project, check=None)
    )
    assert "column 'review' is not in the data" in message
    (project / "p.csv").write_text("mine")
    message = user_error(
        modelyard("predict", "run", "--data", "data.csv", "--out", "p.csv", cwd=project, check=None)
    )
    assert "already exists" in message and (project / "p.csv").read_text() == "mine"
    args = ["predict", "run", "--data", "data.csv", "--out", "q.csv", "--unknown", "skip"]
    message = user_error(modelyard(*args, cwd=project, check=None))
    assert "--unknown applies to recommendation runs" in message


def test_resume_without_checkpoint(project):
    message = user_error(
        modelyard("train", "config.yaml", "--output", "run", "--resume", cwd=project, check=None)
    )
    assert "no checkpoint" in message


def test_bad_override(project):
    assert "expected KEY=VALUE" in user_error(
        modelyard("train", "config.yaml", "--set", "trainer.epochs", cwd=project, check=None)
    )


def test_validate_says_valid_only_after_the_data_passed(project):
    frame = pd.read_csv(project / "data.csv").drop(columns=["colour"])
    frame.to_csv(project / "bad.csv", index=False)
    message = user_error(
        modelyard("validate", "config.yaml", "--set", "data.train=bad.csv", cwd=project, check=None)
    )
    assert "bad.csv' has no column 'colour'" in message and "is valid" not in message
    result = modelyard("validate", "config.yaml", cwd=project)
    assert result.stderr.strip().splitlines()[-1] == "config 'config.yaml' is valid"


def test_a_bad_set_is_blamed_not_the_file(project):
    message = user_error(
        modelyard("train", "config.yaml", "--set", "trainer.epoch=3", cwd=project, check=None)
    )
    assert "--set trainer.epoch=3: unknown key 'epoch'; did you mean 'epochs'?" in message
    assert "config.yaml" not in message


def test_predict_on_a_folder_skips_other_files_but_not_a_broken_image(tmp_path):
    frame = write_images(tmp_path / "pics", count=8)
    frame.to_csv(tmp_path / "images.csv", index=False)
    _write_config(
        tmp_path,
        {
            "name": "img",
            "data": {"train": "images.csv", "split": {"validation": 0.0, "test": 0.0}},
            "inputs": [{"name": "image", "type": "image", "encoder": {"type": "mlp"}}],
            "outputs": [{"name": "label", "type": "category"}],
            "trainer": {"epochs": 1},
        },
    )
    modelyard("train", "config.yaml", "--output", "run", cwd=tmp_path)
    (tmp_path / "pics/README.txt").write_text("holiday pictures")
    (tmp_path / "pics/.DS_Store").write_bytes(b"\0")
    result = modelyard("predict", "run", "--data", "pics", "--out", "p.csv", cwd=tmp_path)
    assert "skipped 2 files that are not images or audio" in result.stderr
    assert "'README.txt'" in result.stderr and len(pd.read_csv(tmp_path / "p.csv")) == 8
    (tmp_path / "pics/3.png").write_bytes(b"not a png")
    message = user_error(
        modelyard("predict", "run", "--data", "pics", "--out", "q.csv", cwd=tmp_path, check=None)
    )
    assert "3.png" in message and "cannot be read" in message
