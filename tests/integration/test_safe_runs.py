"""Through the CLI: a damaged checkpoint, a diverging run and an early-stopping metric the
validation split cannot give are user errors (exit 2, one `error:` line), never tracebacks."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from tests.integration.cli_helpers import modelyard, user_error

pytestmark = pytest.mark.integration


def test_a_damaged_checkpoint_is_a_user_error_and_the_previous_one_a_fallback(project):
    keep = ["--set", "trainer.keep_checkpoints=last"]
    modelyard(
        "train", "config.yaml", "--output", "run", "--set", "trainer.epochs=1", *keep, cwd=project
    )
    last = project / "run/checkpoints/last.pt"
    healthy = last.read_bytes()
    last.write_bytes(healthy[: len(healthy) // 2])
    resume = (
        "train",
        "config.yaml",
        "--output",
        "run",
        "--resume",
        "--set",
        "trainer.epochs=2",
        *keep,
    )
    message = user_error(modelyard(*resume, cwd=project, check=None))
    assert "checkpoints/last.pt' is damaged" in message

    (project / "run/checkpoints/previous.pt").write_bytes(healthy)  # as a crashed run leaves it
    result = modelyard(*resume, cwd=project)
    assert "resuming from the checkpoint before it" in result.stderr
    assert pd.read_csv(project / "run/history.csv")["epoch"].tolist() == [1, 2]


def test_a_diverging_run_stops_with_an_error_naming_epoch_and_step(project):
    message = user_error(
        modelyard(
            "train",
            "config.yaml",
            "--output",
            "run",
            "--set",
            "trainer.optimizer.lr=3e38",
            cwd=project,
            check=None,
        )
    )
    assert "training diverged" in message and "epoch 1, step" in message
    assert not (project / "run/model/weights.safetensors").exists()
    assert not (project / "run/checkpoints").exists()


def test_roc_auc_early_stopping_with_one_class_in_validation_is_refused_up_front(project):
    data = pd.read_csv(project / "data.csv")
    data[data["label"] == "yes"].head(20).to_csv(project / "validation.csv", index=False)
    shutil.copy(project / "data.csv", project / "train.csv")
    message = user_error(
        modelyard(
            "train",
            "config.yaml",
            "--output",
            "run",
            "--set",
            "data.train=train.csv",
            "--set",
            "data.validation=validation.csv",
            "--set",
            "trainer.early_stopping.metric=roc_auc",
            cwd=project,
            check=None,
        )
    )
    assert "'roc_auc' cannot be computed on this validation split" in message
    assert "epoch 1/" not in message
