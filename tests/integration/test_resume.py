"""A killed run continues from its last checkpoint and ends where an uninterrupted run ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from tests.integration.cli_helpers import modelyard

pytestmark = pytest.mark.integration
EPOCHS = 60


def _kill_after_first_checkpoint(project) -> int:
    """Start training, SIGKILL it once a checkpoint exists; return the epoch it was killed after."""
    checkpoint = project / "killed/checkpoints/last.pt"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelyard",
            "train",
            "config.yaml",
            "--output",
            "killed",
            "--set",
            f"trainer.epochs={EPOCHS}",
            "--set",
            "trainer.schedule.type=cosine",
            "--set",
            "trainer.early_stopping=null",  # the whole schedule, every epoch
        ],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "training finished before it could be killed"
    return int(torch.load(checkpoint, weights_only=True)["state"]["epoch"])


def test_killed_run_resumes_to_the_same_weights(project):
    killed_at = _kill_after_first_checkpoint(project)
    assert 1 <= killed_at < EPOCHS
    assert not (project / "killed/model/weights.safetensors").exists()
    kept = pd.read_csv(project / "killed/history.csv")  # written after every epoch
    assert killed_at <= len(kept) <= killed_at + 1  # the checkpoint follows the history
    assert list(kept["epoch"]) == list(range(1, len(kept) + 1))

    modelyard(
        "train",
        "config.yaml",
        "--output",
        "killed",
        "--resume",
        "--set",
        f"trainer.epochs={EPOCHS}",
        "--set",
        "trainer.schedule.type=cosine",
        "--set",
        "trainer.early_stopping=null",  # the whole schedule, every epoch
        cwd=project,
    )
    modelyard(
        "train",
        "config.yaml",
        "--output",
        "straight",
        "--set",
        f"trainer.epochs={EPOCHS}",
        "--set",
        "trainer.schedule.type=cosine",
        "--set",
        "trainer.early_stopping=null",  # the whole schedule, every epoch
        cwd=project,
    )

    resumed = load_file(project / "killed/model/weights.safetensors")
    straight = load_file(project / "straight/model/weights.safetensors")
    assert resumed.keys() == straight.keys()
    for name in resumed:
        torch.testing.assert_close(resumed[name], straight[name], rtol=0, atol=1e-6, msg=name)
    history = pd.read_csv(project / "killed/history.csv")
    assert history["epoch"].tolist() == list(range(1, EPOCHS + 1))
    reference = pd.read_csv(project / "straight/history.csv")
    pd.testing.assert_series_equal(history["lr"], reference["lr"])
    pd.testing.assert_series_equal(
        history["train_loss"], reference["train_loss"], atol=1e-6, rtol=0
    )


class _Stop(Exception):
    pass


def test_a_stopped_cosine_run_finishes_with_the_epochs_it_has_done(project):
    """A run stopped early finishes without more training when resumed with trainer.epochs
    set to the epochs its checkpoint completed; fewer, or a changed cosine length, is refused."""
    from modelyard import Model

    cosine = ["trainer.schedule.type=cosine", "trainer.early_stopping=null"]
    model = Model.from_config(project / "config.yaml", ["trainer.epochs=6", *cosine])

    def stop_at_third(history):
        if len(history) == 3:  # the checkpoint (saved after this hook) holds epoch 2
            raise _Stop

    model.on_epoch_end = stop_at_third
    with pytest.raises(_Stop):
        model.fit(output_dir=project / "stopped")
    done = int(
        torch.load(project / "stopped/checkpoints/last.pt", weights_only=True)["state"]["epoch"]
    )
    assert done == 2 and not (project / "stopped/model/weights.safetensors").exists()

    def resume(epochs: int, check: int):
        sets = [f"trainer.epochs={epochs}", *cosine]
        args = [a for s in sets for a in ("--set", s)]
        return modelyard(
            "train",
            "config.yaml",
            "--output",
            "stopped",
            "--resume",
            *args,
            cwd=project,
            check=check,
        )

    assert "has completed 2 epochs, more than trainer.epochs: 1" in resume(1, 2).stderr
    assert "set it to the 2 epochs done to finish" in resume(4, 2).stderr
    finished = resume(2, 0)
    assert "finishing the run without more training" in finished.stdout + finished.stderr
    assert (project / "stopped/model/weights.safetensors").is_file()
    assert pd.read_csv(project / "stopped/history.csv")["epoch"].tolist() == [1, 2]
    metrics = Model.load(project / "stopped").metrics
    assert "test" in metrics and "validation" in metrics
