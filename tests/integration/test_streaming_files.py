"""Image and audio files decoded by DataLoader workers (data.streaming: true), through the CLI:
the same weights, metrics and predictions as in memory; an unreadable file met by a worker is
a plain user error; a run interrupted within an epoch resumes there exactly."""

from __future__ import annotations

import json
import multiprocessing

import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import load_file

from modelyard.data.files import FileSource
from tests.conftest import write_images
from tests.integration.cli_helpers import modelyard, user_error

pytestmark = pytest.mark.integration


def _config(streaming: bool, kind: str = "image", **data) -> dict:
    """A small cnn with dropout (the main process's random draws) and augmentation (the
    workers' draws, from each step's seed)."""
    if kind == "image":
        preprocessing = {"augment": {"random_crop": 1, "horizontal_flip": True}}
    else:
        preprocessing = {"sample_rate": 8000, "n_mels": 8, "augment": {"time_masks": 1}}
    return {
        "name": "files",
        "data": {
            "train": f"{kind}.csv",
            "split": {"validation": 0.25, "test": 0.0, "seed": 0},
            "streaming": streaming,
            "workers": 2,
            **data,
        },
        "inputs": [
            {
                "name": kind,
                "type": kind,
                "encoder": {"type": "cnn", "channels": [4], "output_size": 8, "dropout": 0.3},
                "preprocessing": preprocessing,
            }
        ],
        "outputs": [{"name": "label", "type": "category"}],
        "trainer": {
            "epochs": 3,
            "batch_size": 4,
            "eval_batch_size": 5,
            "optimizer": {"type": "adam", "lr": 0.01},
        },
    }


def _write_images(tmp_path, count: int = 32) -> None:
    frame = write_images(tmp_path / "pics", count=count, size=8)
    frame.to_csv(tmp_path / "image.csv", index=False)


def _train(tmp_path, name: str, config: dict, *args: str, check: int | None = 0):
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(config))
    return modelyard("train", f"{name}.yaml", "--output", name, *args, cwd=tmp_path, check=check)


def _assert_same_weights(tmp_path, run: str, reference: str) -> None:
    found = load_file(tmp_path / run / "model/weights.safetensors")
    expected = load_file(tmp_path / reference / "model/weights.safetensors")
    assert found.keys() == expected.keys()
    for name in expected:
        assert torch.equal(found[name], expected[name]), name


@pytest.mark.parametrize("kind", ["image", "audio"])
def test_streamed_files_train_to_the_in_memory_weights_metrics_and_predictions(tmp_path, kind):
    if kind == "image":
        _write_images(tmp_path)
    else:
        from tests.integration.test_audio import write_clips

        clips = write_clips(tmp_path / "clips", count=24).rename(columns={"clip": "audio"})
        clips.to_csv(tmp_path / "audio.csv", index=False)
    streamed = _train(tmp_path, "streamed", _config(True, kind))
    assert f"data: {kind} files decoded batch by batch" in streamed.stderr
    assert "2 DataLoader worker processes" in streamed.stderr
    _train(tmp_path, "memory", _config(False, kind))
    _assert_same_weights(tmp_path, "streamed", "memory")
    metrics = [
        json.loads((tmp_path / run / "metrics.json").read_text()) for run in ("streamed", "memory")
    ]
    assert metrics[0] == metrics[1] and metrics[0]["validation"]["rows"] > 0
    history = [pd.read_csv(tmp_path / run / "history.csv") for run in ("streamed", "memory")]
    pd.testing.assert_frame_equal(
        history[0].drop(columns="seconds"), history[1].drop(columns="seconds")
    )
    for run in ("streamed", "memory"):  # each as its config says: decoded lazily, or whole
        modelyard("predict", run, "--data", f"{kind}.csv", "--out", f"{run}.csv", cwd=tmp_path)
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "streamed.csv"), pd.read_csv(tmp_path / "memory.csv")
    )


@pytest.mark.parametrize("streaming", [True, False], ids=["streamed", "in_memory"])
def test_an_unreadable_image_is_the_same_plain_user_error(tmp_path, streaming):
    """Met by a DataLoader worker decoding the validation rows after the first epoch (the
    fit reads every training image of so small a split), or when the data are prepared in
    memory: the same `error:` line naming the file and its row, exit 2, no traceback, no
    worker left running."""
    _write_images(tmp_path, count=24)
    frame = pd.read_csv(tmp_path / "image.csv")
    frame.iloc[:16].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[16:].to_csv(tmp_path / "validation.csv", index=False)
    (tmp_path / "pics/21.png").write_bytes(b"not a png")
    config = _config(streaming, train="train.csv", validation="validation.csv")
    stderr = user_error(_train(tmp_path, "run", config, check=None))
    error = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert error == [
        f"error: column 'image' row 6: image file '{tmp_path / 'pics/21.png'}' cannot be read "
        f"(cannot identify image file '{tmp_path / 'pics/21.png'}'); replace or remove it"
    ]
    assert multiprocessing.active_children() == []


def test_a_streamed_run_interrupted_within_an_epoch_resumes_there_exactly(tmp_path, monkeypatch):
    """trainer.checkpoint_every_steps: stopped at epoch 2's step 6 of 6 (the last checkpoint
    at its step 4), resumed with --resume: the weights of an uninterrupted run."""
    _write_images(tmp_path)
    config = _config(True)
    config["trainer"]["checkpoint_every_steps"] = 2
    _train(tmp_path, "straight", config)

    batches = FileSource.batches

    def interrupted(self, epoch, procs, start_step=0):
        for step, item in enumerate(batches(self, epoch, procs, start_step), start=start_step):
            if (epoch, step) == (2, 5):
                raise KeyboardInterrupt
            yield item

    with monkeypatch.context() as patch:
        patch.setattr(FileSource, "batches", interrupted)
        assert _train(tmp_path, "resumed", config, check=130).returncode == 130
    saved = torch.load(tmp_path / "resumed/checkpoints/last.pt", weights_only=True)["state"]
    assert (saved["epoch"], saved["position"]) == (1, 4)
    _train(tmp_path, "resumed", config, "--resume")
    _assert_same_weights(tmp_path, "resumed", "straight")
