"""The same command under torchrun: 2 processes (gloo on CPU), only rank 0 writes files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.integration.cli_helpers import modelyard

pytestmark = pytest.mark.integration


def _torchrun(*args: str, cwd) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    return subprocess.run(
        [*command, "--nproc_per_node", "2", "-m", "modelyard", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def test_two_processes_match_one(project):
    args = ["train", "config.yaml", "--set", "trainer.epochs=8", "--set", "trainer.batch_size=16"]
    modelyard(*args, "--output", "one", cwd=project)
    result = _torchrun(*args, "--output", "two", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("run saved to two") == 1  # rank 0 alone writes
    assert result.stderr.count("epoch 8/8") == 1
    one = json.loads((project / "one/metrics.json").read_text())["test"]
    two = json.loads((project / "two/metrics.json").read_text())["test"]
    assert two["accuracy"] > 0.7
    assert abs(one["accuracy"] - two["accuracy"]) <= 0.15
    assert (project / "two/model/weights.safetensors").is_file()


def test_a_pretrained_encoder_trains_under_torchrun(tmp_path):
    """DDP refuses weights that get no gradient, such as a BERT pooler modelyard never uses."""
    from tests.conftest import make_table, tiny_config
    from tests.pretrained_fixtures import save_tiny_checkpoint

    save_tiny_checkpoint(tmp_path / "bert", "bert")
    make_table().to_csv(tmp_path / "data.csv", index=False)
    config = tiny_config(epochs=1)
    config["inputs"][4] = {
        "name": "review",
        "type": "text",
        "encoder": {"type": "pretrained", "model": "bert"},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    result = _torchrun("train", "config.yaml", "--output", "run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "run/model/backbones/review/config.json").is_file()
