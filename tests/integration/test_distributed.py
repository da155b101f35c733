"""The same command under torchrun: 2 processes (gloo on CPU), only rank 0 writes files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.integration.cli_helpers import modelyard

pytestmark = pytest.mark.integration


def test_two_processes_match_one(project):
    args = ["train", "config.yaml", "--set", "trainer.epochs=8", "--set", "trainer.batch_size=16"]
    modelyard(*args, "--output", "one", cwd=project)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "modelyard",
            *args,
            "--output",
            "two",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("run saved to two") == 1  # rank 0 alone writes
    assert result.stderr.count("epoch 8/8") == 1
    one = json.loads((project / "one/metrics.json").read_text())["test"]
    two = json.loads((project / "two/metrics.json").read_text())["test"]
    assert two["accuracy"] > 0.7
    assert abs(one["accuracy"] - two["accuracy"]) <= 0.15
    assert (project / "two/model/weights.safetensors").is_file()
