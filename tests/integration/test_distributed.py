"""Two processes (gloo on CPU) train what one process trains; only rank 0 writes files; each
process draws its own random numbers; a user error on one process ends the whole job."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from tests.integration.cli_helpers import modelyard

pytestmark = pytest.mark.integration


def _torchrun(*args: str, cwd, program: str = "-m modelyard") -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    return subprocess.run(
        [*command, "--nproc_per_node", "2", *program.split(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def _numbers_project(folder: Path, rows: int, batch_size: int) -> None:
    """Four numbers -> binary; SGD, no dropout or batch norm: training is deterministic."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 4))
    frame = pd.DataFrame(x, columns=list("abcd"))
    frame["y"] = np.where(x @ [1.0, -1.0, 0.5, 0.2] + 0.3 * rng.normal(size=rows) > 0, "yes", "no")
    frame.to_csv(folder / "data.csv", index=False)
    config = {
        "name": "numbers",
        "data": {"train": "data.csv", "split": {"validation": 0.2, "test": 0.2}},
        "inputs": [{"name": c, "type": "number"} for c in "abcd"],
        "outputs": [{"name": "y", "type": "binary"}],
        "combiner": {"type": "mlp", "hidden": [8]},
        "trainer": {
            "epochs": 2,
            "batch_size": batch_size,
            "optimizer": {"type": "sgd", "lr": 0.2},
            "device": "cpu",
            "checkpoint_every_steps": 2,  # checkpoints within epochs too: a collective each
        },
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


def _largest_difference(one: Path, two: Path) -> float:
    from safetensors.torch import load_file

    a, b = (load_file(str(run / "model/weights.safetensors")) for run in (one, two))
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def test_two_processes_train_the_weights_of_one(tmp_path):
    """61 rows leave 37 for training: with batch 4, each epoch ends on a batch of one row,
    which rank 0 takes alone (the old padding repeated a row on rank 1 and got other weights)."""
    _numbers_project(tmp_path, rows=61, batch_size=4)
    modelyard("train", "config.yaml", "--output", "one", cwd=tmp_path)
    result = _torchrun("train", "config.yaml", "--output", "two", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("run saved to two") == 1  # rank 0 alone writes
    assert result.stderr.count("epoch 2/2") == 1
    assert _largest_difference(tmp_path / "one", tmp_path / "two") < 1e-5
    one, two = (json.loads((tmp_path / f"{r}/metrics.json").read_text()) for r in ("one", "two"))
    assert one["test"] == pytest.approx(two["test"], abs=1e-5)


def _two_agents(
    *args: str, cwd, program: str = "-m modelyard"
) -> list[subprocess.CompletedProcess]:
    """Two torchrun agents on localhost, one process each, meeting through c10d rendezvous:
    what two machines do (`--nnodes 2`), each launched with the same command."""
    endpoint = f"127.0.0.1:{_free_port()}"
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2"]
    command += ["--nproc-per-node", "1", "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint]
    command += ["--rdzv-id", "modelyard-test", *program.split(), *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    agents = [
        subprocess.Popen(
            command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    results = []
    for agent in agents:
        out, err = agent.communicate(timeout=240)
        results.append(subprocess.CompletedProcess(command, agent.returncode, out, err))
    return results


def test_two_agents_as_two_machines_train_the_weights_of_one_process(tmp_path):
    _numbers_project(tmp_path, rows=61, batch_size=4)
    modelyard("train", "config.yaml", "--output", "one", cwd=tmp_path)
    agents = _two_agents("train", "config.yaml", "--output", "two", cwd=tmp_path)
    assert [a.returncode for a in agents] == [0, 0], [a.stderr for a in agents]
    assert sum(a.stderr.count("run saved to two") for a in agents) == 1  # global rank 0 alone
    assert _largest_difference(tmp_path / "one", tmp_path / "two") < 1e-5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _draws_of(rank: int, world: int, port: int, out: str) -> None:
    """One process of a 2-process `fit` that records the random numbers its forward passes draw."""
    from torch import nn

    from modelyard.config import schema
    from modelyard.data.source import InMemorySource
    from modelyard.models.heads import make_loss
    from modelyard.train import distributed
    from modelyard.train.loop import FitSetup, fit, supervised_objective

    os.environ.update(
        RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_PORT=str(port)
    )
    os.environ.update(MASTER_ADDR="127.0.0.1")

    class Drawing(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear, self.draws = nn.Linear(2, 1), []

        def forward(self, batch):
            self.draws.append(torch.rand(3))  # what dropout, augmentation and masking draw from
            return {"y": self.linear(batch["x"]).squeeze(-1)}

    torch.manual_seed(0)  # the same start everywhere, as in a real run
    model = Drawing()
    x = torch.randn(16, 2, generator=torch.Generator().manual_seed(0))
    settings = schema.Trainer(epochs=2, batch_size=8, optimizer=schema.Sgd(lr=0.1))
    losses = {"y": (1.0, make_loss("binary_cross_entropy"))}
    procs = distributed.init("cpu")
    setup = FitSetup(settings, supervised_objective(losses), torch.device("cpu"), False, procs)
    fit(model, InMemorySource({"x": x, "y": (x[:, 0] > 0).float()}, 8, 0), setup)
    torch.save(torch.stack(model.draws), f"{out}/draws{rank}.pt")


def test_each_process_draws_its_own_random_numbers(tmp_path):
    torch.multiprocessing.spawn(_draws_of, args=(2, _free_port(), str(tmp_path)), nprocs=2)
    rank0, rank1 = (torch.load(tmp_path / f"draws{r}.pt") for r in (0, 1))
    assert rank0.shape == rank1.shape == (4, 3)  # 2 epochs of 2 steps
    assert not torch.isclose(rank0, rank1).any()


RANK_1_FAILS = """
import os, sys
from modelyard.errors import UserError
from modelyard.train import loop

supervised = loop.supervised_objective


def failing_on_rank_1(losses):  # rank 1's third step fails, while rank 0 waits in the all-reduce
    objective, steps = supervised(losses), []

    def step(model, batch):
        steps.append(1)
        if os.environ["RANK"] == "1" and len(steps) == 3:
            raise UserError("rank 1 cannot go on")
        return objective(model, batch)

    return step


loop.supervised_objective = failing_on_rank_1
from modelyard.cli import main

sys.exit(main())
"""


def test_a_user_error_on_one_process_ends_the_job_with_code_2(tmp_path):
    """Every process exits with 2 and the error is printed once; torchrun itself exits with 1,
    as it does whenever a process fails, and names the error as the root cause."""
    _numbers_project(tmp_path, rows=61, batch_size=4)
    (tmp_path / "rank_1_fails.py").write_text(RANK_1_FAILS, encoding="utf-8")
    result = _torchrun("train", "config.yaml", cwd=tmp_path, program="rank_1_fails.py")
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: rank 1 cannot go on"], result.stderr
    assert "bug in modelyard" not in result.stderr
    summary = result.stderr.split("Failures:")[-1]  # torchrun's, one entry per process
    assert re.findall(r"exitcode +: (-?\d+)", summary) == ["2", "2"], result.stderr
    assert "traceback : error: rank 1 cannot go on" in result.stderr.split("Root Cause")[-1]
    assert result.returncode == 1


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


def test_a_user_error_on_one_machine_ends_both_with_code_2(tmp_path):
    """Across two agents (two machines), as within one: the error is printed once, and each
    agent's summary shows its process ended with 2; no agent hangs."""
    _numbers_project(tmp_path, rows=61, batch_size=4)
    (tmp_path / "rank_1_fails.py").write_text(RANK_1_FAILS, encoding="utf-8")
    agents = _two_agents("train", "config.yaml", cwd=tmp_path, program="rank_1_fails.py")
    stderr = "".join(a.stderr for a in agents)
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: rank 1 cannot go on"], stderr
    for agent in agents:
        summary = agent.stderr.split("Failures:")[-1]
        assert re.findall(r"exitcode +: (-?\d+)", summary) == ["2"], agent.stderr
        assert agent.returncode == 1
