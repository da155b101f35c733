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
    assert result.stderr.count("were set aside") == 1  # and alone gives notes
    assert result.stderr.count("epoch 2/2") == 1
    assert _largest_difference(tmp_path / "one", tmp_path / "two") < 1e-5
    one, two = (json.loads((tmp_path / f"{r}/metrics.json").read_text()) for r in ("one", "two"))
    assert one["test"] == pytest.approx(two["test"], abs=1e-5)


def test_two_processes_streaming_a_table_train_the_weights_of_one(tmp_path):
    """Streamed rows (data.streaming): both processes follow the one global order and take
    their share of every batch; row groups of 23 rows, windows of 50, an uneven last batch."""
    _numbers_project(tmp_path, rows=301, batch_size=8)
    pd.read_csv(tmp_path / "data.csv").to_parquet(tmp_path / "data.parquet", row_group_size=23)
    settings = ["--set", "data.train=data.parquet", "--set", "data.streaming=true"]
    settings += ["--set", "data.split.by=hash", "--set", "data.shuffle_buffer=50"]
    settings += ["--set", "data.workers=1"]
    modelyard("train", "config.yaml", "--output", "one", *settings, cwd=tmp_path)
    result = _torchrun("train", "config.yaml", "--output", "two", *settings, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("data: streaming") == 1  # notes: the main process's only
    assert _largest_difference(tmp_path / "one", tmp_path / "two") < 1e-5


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


def _transformer_project(folder: Path) -> None:
    """A text transformer encoder (2 blocks) and a number -> category; SGD, no dropout."""
    from tests.conftest import make_table

    make_table(rows=80).to_csv(folder / "data.csv", index=False)
    encoder = {"type": "transformer", "dim": 16, "layers": 2, "heads": 2, "ff_multiplier": 2}
    config = {
        "name": "sharded",
        "data": {"train": "data.csv", "split": {"validation": 0.2, "test": 0.2, "seed": 0}},
        "inputs": [
            {"name": "x1", "type": "number"},
            {
                "name": "review",
                "type": "text",
                "encoder": {**encoder, "dropout": 0.0},
                "preprocessing": {"vocab_size": 100, "min_frequency": 1},
            },
        ],
        "outputs": [{"name": "label", "type": "category"}],
        "combiner": {"type": "mlp", "hidden": [8]},
        "trainer": {
            "epochs": 2,
            "batch_size": 8,  # 48 training rows: 6 steps an epoch
            "optimizer": {"type": "sgd", "lr": 0.3, "momentum": 0.9},  # state to resume
            "device": "cpu",
            "strategy": "fsdp",
            "checkpoint_every_steps": 2,  # sharded checkpoints within epochs
        },
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


STOPS_AT_STEP_10 = """
import sys
from modelyard.errors import UserError
from modelyard.train import loop

supervised = loop.supervised_objective


def stopping(losses):  # every process stops at the 10th step: epoch 2's 4th
    objective, steps = supervised(losses), []

    def step(model, batch):
        steps.append(1)
        if len(steps) == 10:
            raise UserError("stopped at step 10")
        return objective(model, batch)

    return step


loop.supervised_objective = stopping
from modelyard.cli import main

sys.exit(main())
"""


def test_an_fsdp_run_stopped_within_an_epoch_resumes_in_one_process(tmp_path):
    """trainer.strategy fsdp: 2 processes, each holding half of every weight, stop within
    epoch 2 (6 steps an epoch), after its checkpoint at step 2; one process resumes their
    shards there and ends with the weights and losses of an uninterrupted one-process run
    (so the 2 processes had trained what one trains); evaluate loads the result."""
    _transformer_project(tmp_path)
    (tmp_path / "stops.py").write_text(STOPS_AT_STEP_10, encoding="utf-8")
    result = _torchrun("train", "config.yaml", "--output", "two", cwd=tmp_path, program="stops.py")
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: stopped at step 10"], result.stderr
    kept = sorted(p.name for p in (tmp_path / "two/checkpoints").iterdir())
    assert kept == ["last.pt", "previous.pt", "shards-1-0", "shards-1-2"]

    modelyard("train", "config.yaml", "--output", "two", "--resume", cwd=tmp_path)
    modelyard(
        "train", "config.yaml", "--output", "one", "--set", "trainer.strategy=ddp", cwd=tmp_path
    )
    assert _largest_difference(tmp_path / "one", tmp_path / "two") < 1e-5
    one, two = (pd.read_csv(tmp_path / f"{run}/history.csv") for run in ("one", "two"))
    assert two["train_loss"].tolist() == pytest.approx(one["train_loss"].tolist(), abs=1e-6)
    modelyard("evaluate", "two", "--data", "data.csv", cwd=tmp_path)


def _transformer_and_step(procs):
    """A small text transformer encoder (sharded with FSDP2 under several processes), its
    optimizer, and a step on a fixed global batch (each process taking its share)."""
    from modelyard.models.encoders.transformer import TextTransformer
    from modelyard.train import distributed

    model = TextTransformer(30, 6, 16, 2, 2, 2, "mean", 0.0)
    if procs.world > 1:
        model = distributed.shard(model, torch.device("cpu"), procs)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    tokens = torch.randint(1, 30, (12, 6), generator=torch.Generator().manual_seed(0))

    def step() -> None:
        rows, share = distributed.share(torch.arange(12), procs)
        (share * model(tokens[rows]).pow(2).mean()).backward()
        optimizer.step()
        optimizer.zero_grad()

    return model, optimizer, step


def _read_shards(rank: int, world: int, port: int, folder: str) -> None:
    """One of `world` processes: reads the shards in `folder` into a sharded model that
    started from other weights, takes the step, and (rank 0) records the whole weights, and
    those whole weights loaded back into the zeroed shards. Then trains a sharded decoder."""
    from modelyard.train import checkpoint, distributed

    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world))
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    procs = distributed.init("cpu")
    torch.manual_seed(1)
    model, optimizer, step = _transformer_and_step(procs)
    checkpoint.load_sharded(model, optimizer, Path(folder) / "shards")
    step()  # how far it goes depends on the momentum: it must have come along
    weights = distributed.full_state(model, procs)
    with torch.no_grad():
        for p in model.parameters():
            distributed.local_tensor(p).zero_()
    distributed.load_full(model, weights)  # as trainer.keep: best puts the best epoch's back
    if procs.is_main:
        torch.save([weights, distributed.full_state(model, procs)], Path(folder) / "read.pt")
    else:
        distributed.full_state(model, procs)
    decoding = distributed.shard(_Decoding(), torch.device("cpu"), procs)
    decoding(torch.randn(3, 5, 16, generator=torch.Generator().manual_seed(0))).sum().backward()


class _Decoding(torch.nn.Module):
    """A transformer decoder as Seq2Seq uses it: each block's cross-attention keys and
    values come from a method other than its forward (DecoderBlock.forward_methods)."""

    def __init__(self):
        from modelyard.tasks.seq2seq import TransformerDecoder

        super().__init__()
        self.decoder = TransformerDecoder(20, 8, 16, 2, 2, 2, 0.0, True)

    def forward(self, memory: torch.Tensor) -> torch.Tensor:
        """(B, S, 16) memory -> (B, 4, 20) logits."""
        mask = torch.ones(len(memory), 1, 1, memory.shape[1], dtype=torch.bool)
        tokens = torch.ones(len(memory), 4, dtype=torch.long)
        return self.decoder(tokens, self.decoder.memory_kv(memory), mask)


def test_shards_are_read_by_three_processes(tmp_path):
    """DCP reshards: 3 processes (3 does not divide the weights' rows evenly) continue from
    the checkpoint of one with its weights and optimizer state (the test above reads the
    shards of 2 processes into 1); whole weights go back into the shards unchanged; and a
    translation decoder, whose blocks run their weights outside forward too, trains sharded."""
    from modelyard.train import checkpoint
    from modelyard.train.distributed import Processes

    torch.manual_seed(0)
    model, optimizer, step = _transformer_and_step(Processes())
    step()
    checkpoint.save_sharded(model, optimizer, tmp_path / "shards", is_main=True)
    step()
    torch.multiprocessing.spawn(_read_shards, args=(3, _free_port(), str(tmp_path)), nprocs=3)
    read, put_back = torch.load(tmp_path / "read.pt")
    for name, value in model.state_dict().items():
        torch.testing.assert_close(read[name], value, rtol=0, atol=1e-6, msg=name)
        assert torch.equal(put_back[name], read[name]), name


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


def _gan_steps_of(rank: int, world: int, port: int, out: str) -> None:
    """One process of two: GAN steps on this rank's own images; saves its weights."""
    import types

    from modelyard.config.schema.image_generation import Gan as GanConfig
    from modelyard.generation.kinds import GanNet, gan_step
    from modelyard.train import distributed

    os.environ.update(
        RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_PORT=str(port)
    )
    os.environ.update(MASTER_ADDR="127.0.0.1")
    procs = distributed.init("cpu")
    torch.manual_seed(0)  # the same start everywhere, as in a real run
    net = GanNet(GanConfig(type="gan", latent=4, channels=4, critic_steps=1), (1, 8, 8), 0)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
    setup = types.SimpleNamespace(device=torch.device("cpu"), bf16=False, procs=procs)
    run = types.SimpleNamespace(model=net, optimizer=optimizer, setup=setup, scheduler=None)
    torch.manual_seed(100 + rank)  # each rank its own images and noise
    for _ in range(3):
        gan_step(run, {"image": torch.randint(0, 256, (4, 1, 8, 8), dtype=torch.uint8)}, 1, True)
    torch.save(dict(net.named_parameters()), Path(out) / f"gan{rank}.pt")
    distributed.finish()


def test_gan_steps_under_torchrun_keep_the_processes_weights_equal(tmp_path):
    """The GAN step calls its networks around the DDP wrapper: without averaging the
    gradients over the processes, each rank trained its own GAN."""
    torch.multiprocessing.spawn(_gan_steps_of, args=(2, _free_port(), str(tmp_path)), nprocs=2)
    rank0, rank1 = (torch.load(tmp_path / f"gan{r}.pt") for r in (0, 1))
    for name in rank0:
        torch.testing.assert_close(rank0[name], rank1[name], rtol=0, atol=1e-6, msg=name)
