"""trainer.strategy ddp against fsdp, 2 processes under torchrun: losses, speed, memory per process.

A text classifier with a Transformer encoder (text made here, seeded; 4 blocks of dim 256 by
default) on the same data with the same seed, once per strategy (`--repeats` times,
alternating). Prints the training and validation loss of every epoch side by side, the median
seconds per epoch, and for each process the bytes of its parameters and of its optimizer
state: the tensors it holds (for fsdp its shards: the sum of numel * element size of the
local tensors), with the ratio fsdp / ddp. Baseline: ddp, which holds everything in every
process.

    python bench/fsdp_vs_ddp.py [--rows 800] [--epochs 3] [--layers 4] [--dim 256] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

STRATEGIES = ("ddp", "fsdp")


def write_project(folder: Path, rows: int, epochs: int, layers: int, dim: int) -> None:
    """Texts of 24 words from 2,000; the label says whether more than half are among the
    first 1,000. AdamW (two moments per weight), no dropout."""
    rng = np.random.default_rng(0)
    words = rng.integers(0, 2000, size=(rows, 24))
    label = np.where((words < 1000).sum(1) > 12, "a", "b")
    text = [" ".join(f"w{w}" for w in row) for row in words]
    pd.DataFrame({"text": text, "label": label}).to_csv(folder / "data.csv", index=False)
    config = {
        "name": "fsdp-vs-ddp",
        "data": {"train": "data.csv", "split": {"validation": 0.1, "test": 0.1}},
        "inputs": [
            {
                "name": "text",
                "type": "text",
                "encoder": {
                    "type": "transformer",
                    "dim": dim,
                    "layers": layers,
                    "heads": 4,
                    "dropout": 0.0,
                },
                "preprocessing": {"tokenizer": "whitespace", "vocab_size": 2000},
            }
        ],
        "outputs": [{"name": "label", "type": "category"}],
        "trainer": {
            "epochs": epochs,
            "batch_size": 32,
            "optimizer": {"type": "adamw", "lr": 3e-4},
            "device": "cpu",
            "keep": "last",
        },
        "tracking": {"tensorboard": False},
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


def train(folder: Path, strategy: str, name: str) -> tuple[pd.DataFrame, list[dict]]:
    """One run under torchrun (2 processes, this file as their program) into `name`: its
    history, and the bytes each process held."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", "2", __file__, "--worker", strategy, name]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, env=env)
    if done.returncode:
        sys.exit(f"the {strategy} run failed:\n{done.stderr[-3000:]}")
    held = json.loads((folder / f"{name}.json").read_text())
    return pd.read_csv(folder / name / "history.csv"), held


def worker(strategy: str, name: str) -> None:
    """A process of the run: trains through the CLI, keeping hold of the training objects (the
    model as trained, sharded or not, and its optimizer) to count the bytes each holds."""
    import torch

    from modelyard.cli import main
    from modelyard.train import distributed, loop

    seen = {}
    step = loop.gradient_step

    def keeping(run, batch, share, update):
        seen["run"] = run
        return step(run, batch, share, update)

    loop.gradient_step = keeping
    code = main(["train", "config.yaml", "--output", name, "--set", f"trainer.strategy={strategy}"])
    if code:
        sys.exit(code)
    run = seen["run"]

    def held(tensors) -> int:
        return sum(distributed.local_tensor(t).numel() * t.element_size() for t in tensors)

    state = [v for s in run.optimizer.state.values() for v in s.values() if torch.is_tensor(v)]
    mine = {"parameters": held(run.model.parameters()), "optimizer": held(state)}
    every = distributed.gather_objects(mine, run.setup.procs)
    if run.setup.procs.is_main:
        Path(f"{name}.json").write_text(json.dumps(every), encoding="utf-8")


def report(runs: dict[str, list[tuple[pd.DataFrame, list[dict]]]]) -> None:
    """Losses and bytes of the first run of each strategy; seconds: medians over all runs."""
    ddp, fsdp = runs["ddp"][0][0], runs["fsdp"][0][0]
    print(f"{'epoch':>5}  {'train ddp':>10}  {'train fsdp':>10}  {'val ddp':>10}  {'val fsdp':>10}")
    for i in range(len(ddp)):
        print(
            f"{int(ddp['epoch'][i]):>5}  {ddp['train_loss'][i]:>10.5f}  {fsdp['train_loss'][i]:>10.5f}"
            f"  {ddp['validation_loss'][i]:>10.5f}  {fsdp['validation_loss'][i]:>10.5f}"
        )
    gap = (ddp["train_loss"] - fsdp["train_loss"]).abs().max()
    print(f"largest |train loss ddp - fsdp|: {gap:.2e}")
    seconds = {s: pd.concat([h["seconds"] for h, _ in runs[s]]).median() for s in STRATEGIES}
    print(
        f"median seconds per epoch ({len(runs['ddp'])} runs each): ddp {seconds['ddp']:.2f}, "
        f"fsdp {seconds['fsdp']:.2f} (fsdp / ddp {seconds['fsdp'] / seconds['ddp']:.2f})"
    )
    print(f"\n{'process':>7}  {'what':>10}  {'ddp MiB':>8}  {'fsdp MiB':>8}  {'fsdp/ddp':>8}")
    held = zip(runs["ddp"][0][1], runs["fsdp"][0][1], strict=True)
    for rank, (d, f) in enumerate(held):
        for what in ("parameters", "optimizer", "both"):
            a, b = (
                (x["parameters"] + x["optimizer"]) if what == "both" else x[what] for x in (d, f)
            )
            print(f"{rank:>7}  {what:>10}  {a / 2**20:>8.2f}  {b / 2**20:>8.2f}  {b / a:>8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=800)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)  # strategy, run name
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    runs: dict[str, list] = {strategy: [] for strategy in STRATEGIES}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_project(folder, args.rows, args.epochs, args.layers, args.dim)
        for repeat in range(args.repeats):
            for strategy in STRATEGIES if repeat % 2 == 0 else STRATEGIES[::-1]:
                runs[strategy].append(train(folder, strategy, f"{strategy}{repeat}"))
    report(runs)


if __name__ == "__main__":
    main()
