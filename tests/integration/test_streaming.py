"""`data.streaming`: training rows read from Parquet / CSV files as training goes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import yaml
from safetensors.torch import load_file

from tests.integration.cli_helpers import modelyard

pytestmark = pytest.mark.integration


def _rows(count: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=count),
            "b": rng.normal(size=count),
            "kind": rng.choice(["x", "y", "z"], count),
        }
    )
    frame["label"] = np.where(frame["a"] + (frame["kind"] == "x") > 0.3, "up", "down")
    return frame


def _write(project: Path, train: str, **changes) -> None:
    config = {
        "name": "streamed",
        "data": {
            "train": train,
            "streaming": True,
            "workers": 0,
            "shuffle_buffer": 300,
            "split": {"by": "hash", "validation": 0.2, "test": 0.2},
        },
        "inputs": [
            {"name": "a", "type": "number"},
            {"name": "b", "type": "number"},
            {"name": "kind", "type": "category"},
        ],
        "outputs": [{"name": "label", "type": "category"}],
        "combiner": {"type": "mlp", "hidden": [16], "dropout": 0.0},
        "trainer": {"epochs": 3, "batch_size": 32, "optimizer": {"type": "adam", "lr": 0.01}},
        "tracking": {"tensorboard": False},
    }
    for key, value in changes.items():
        section, name = key.split("__")
        config[section][name] = value
    (project / "config.yaml").write_text(yaml.safe_dump(config))


def _hive(project: Path, frame: pd.DataFrame) -> None:
    """A hive-partitioned folder (region=north/, region=south/), several row groups each."""
    for region, part in (("north", frame.iloc[::2]), ("south", frame.iloc[1::2])):
        folder = project / "table" / f"region={region}"
        folder.mkdir(parents=True)
        table = pa.Table.from_pandas(part, preserve_index=False)
        pq.write_table(table, folder / "part.parquet", row_group_size=90)


def test_a_streamed_folder_trains_evaluates_and_predicts_like_one_read_whole(tmp_path) -> None:
    frame = _rows(1_200)
    _hive(tmp_path, frame)
    _write(tmp_path, "table")
    result = modelyard("train", "config.yaml", "--output", "streamed", cwd=tmp_path)
    assert "streaming" in result.stderr and "row groups" in result.stderr
    assert "no baselines for streamed training rows" in result.stderr
    modelyard(
        "train", "config.yaml", "--output", "whole", "--set", "data.streaming=false", cwd=tmp_path
    )
    streamed = json.loads((tmp_path / "streamed/metrics.json").read_text())
    whole = json.loads((tmp_path / "whole/metrics.json").read_text())
    assert "baselines" not in streamed and "baselines" in whole
    for split in ("validation", "test"):  # the same rows held out by the same hash
        assert streamed[split]["rows"] == whole[split]["rows"] > 150
        assert streamed[split]["accuracy"] > 0.85
    assert json.loads((tmp_path / "streamed/model/preprocessing.json").read_text()) == json.loads(
        (tmp_path / "whole/model/preprocessing.json").read_text()
    )
    splits = json.loads((tmp_path / "streamed/splits.json").read_text())
    assert splits["train"]["kept"] + len(splits["validation"]["rows"]) + len(
        splits["test"]["rows"]
    ) == len(frame)
    summary = json.loads((tmp_path / "streamed/data_summary.json").read_text())
    whole_summary = json.loads((tmp_path / "whole/data_summary.json").read_text())
    assert summary["splits"] == whole_summary["splits"]  # rows per split, as read whole
    assert "streamed" in summary["note"] and "note" not in whole_summary
    assert set(summary["classes"]["label"]) == {"validation", "test"}  # train's not counted
    assert "<h2>Data</h2>" in (tmp_path / "streamed/report.html").read_text()
    frame.head(20).to_csv(tmp_path / "new.csv", index=False)
    modelyard("predict", "streamed", "--data", "new.csv", "--out", "p.csv", cwd=tmp_path)
    assert len(pd.read_csv(tmp_path / "p.csv")) == 20


def test_a_streamed_csv_file_trains_with_dataloader_workers(tmp_path) -> None:
    _rows(900, seed=1).to_csv(tmp_path / "rows.csv", index=False)
    _write(tmp_path, "rows.csv", data__workers=2, trainer__epochs=2)
    result = modelyard("train", "config.yaml", cwd=tmp_path)
    assert "copied to Parquet" in result.stderr
    metrics = json.loads((tmp_path / "runs/streamed/metrics.json").read_text())
    assert metrics["test"]["accuracy"] > 0.8
    assert not (tmp_path / "runs/streamed/checkpoints/data").exists()  # the copy is removed


def _train_until_killed(project: Path, output: str) -> int:
    """Start training in a process of its own, SIGKILL it once it has checkpointed in the
    middle of an epoch; returns the global step it had checkpointed."""
    checkpoint = project / output / "checkpoints/last.pt"
    process = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "train", "config.yaml", "--output", output],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    deadline, position = time.time() + 120, 0
    while time.time() < deadline and process.poll() is None:
        if checkpoint.exists():
            try:
                state = torch.load(checkpoint, weights_only=True)["state"]
            except (RuntimeError, EOFError, OSError):
                continue  # being replaced
            if state["epoch"] >= 1 and state["position"] > 0:
                position = state["position"]
                break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "training finished before it could be killed"
    return position


def test_a_streamed_run_killed_mid_epoch_resumes_to_bit_identical_weights(tmp_path) -> None:
    _hive(tmp_path, _rows(1_500, seed=2))
    _write(
        tmp_path,
        "table",
        trainer__epochs=4,
        trainer__checkpoint_every_steps=3,
        combiner__dropout=0.2,
        data__workers=1,
    )
    assert _train_until_killed(tmp_path, "killed") > 0
    modelyard("train", "config.yaml", "--output", "killed", "--resume", cwd=tmp_path)
    modelyard("train", "config.yaml", "--output", "whole", cwd=tmp_path)
    killed = load_file(tmp_path / "killed/model/weights.safetensors")
    whole = load_file(tmp_path / "whole/model/weights.safetensors")
    for name, value in whole.items():
        assert torch.equal(killed[name], value), name


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"data__split": {"validation": 0.2, "test": 0.2}}, "cannot be split at random"),
        (
            {"data__train": "table/region=north/part.parquet", "outputs": "wrong"},
            "has no column 'grade'",
        ),
        ({"data__train": "missing/*.parquet"}, "the pattern matches no files"),
    ],
)
def test_streaming_mistakes_are_named_with_exit_2(tmp_path, change, expected) -> None:
    _hive(tmp_path, _rows(300))
    wrong_output = change.pop("outputs", None)
    _write(tmp_path, change.pop("data__train", "table"), **change)
    if wrong_output:
        config = yaml.safe_load((tmp_path / "config.yaml").read_text())
        config["outputs"] = [{"name": "grade", "type": "category"}]
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = modelyard("train", "config.yaml", cwd=tmp_path, check=2)
    assert expected in result.stderr and "Traceback" not in result.stderr
    if wrong_output:
        assert "part.parquet" in result.stderr  # the file is named


def test_a_bad_value_in_a_streamed_table_names_its_row(tmp_path) -> None:
    frame = _rows(600)
    frame["a"] = frame["a"].astype(object)
    frame.loc[433, "a"] = "n/a"  # not a number: met when its block is preprocessed
    pq.write_table(
        pa.Table.from_pandas(frame.astype({"a": str}), preserve_index=False),
        tmp_path / "t.parquet",
        row_group_size=100,
    )
    _write(tmp_path, "t.parquet", data__workers=1)
    result = modelyard("train", "config.yaml", cwd=tmp_path, check=2)
    assert "'n/a' is not a number" in result.stderr and "row 434" in result.stderr
    assert "Traceback" not in result.stderr


def test_auto_streams_a_table_too_large_for_memory_when_its_split_allows(
    tmp_path, monkeypatch
) -> None:
    from modelyard.data import memory

    monkeypatch.setattr(memory, "available_bytes", lambda: 4_000)  # 1,000 bytes are comfortable
    _hive(tmp_path, _rows(400))
    _write(tmp_path, "table", data__streaming="auto", trainer__epochs=1)
    result = modelyard("train", "config.yaml", "--output", "hashed", cwd=tmp_path)
    assert "in memory: streaming it" in result.stderr and "row groups" in result.stderr
    _write(tmp_path, "table", data__streaming="auto", data__split={}, trainer__epochs=1)
    result = modelyard("train", "config.yaml", "--output", "random", cwd=tmp_path)
    assert "read whole because data.split is random" in result.stderr
    assert "row groups" not in result.stderr
