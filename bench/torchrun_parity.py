"""1 process against 2 processes under torchrun: the largest weight difference after training.

A table of four numbers and a binary label (made here, seeded), an `mlp` combiner, SGD, no
dropout or batch norm, the same global batch size: the two runs should end with the same
weights (float rounding only) for any number of rows, also when an epoch's last batch does
not divide evenly among the processes.

    python bench/torchrun_parity.py [--rows 1200 1300 1301 1500] [--batch-sizes 4 64] [--epochs 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml


def write_project(folder: Path, rows: int, batch_size: int, epochs: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 4))
    frame = pd.DataFrame(x, columns=list("abcd"))
    frame["y"] = np.where(x @ [1.0, -1.0, 0.5, 0.2] + 0.3 * rng.normal(size=rows) > 0, "yes", "no")
    folder.mkdir(parents=True)
    frame.to_csv(folder / "data.csv", index=False)
    config = {
        "name": "parity",
        "data": {"train": "data.csv"},
        "inputs": [{"name": c, "type": "number"} for c in "abcd"],
        "outputs": [{"name": "y", "type": "binary"}],
        "combiner": {"type": "mlp", "hidden": [8]},
        "trainer": {
            "epochs": epochs,
            "batch_size": batch_size,
            "optimizer": {"type": "sgd", "lr": 0.1},
            "device": "cpu",
        },
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


def train(folder: Path, processes: int) -> None:
    launcher = [sys.executable, "-m", "modelyard"]
    if processes > 1:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        launcher += ["--nproc_per_node", str(processes), "-m", "modelyard"]
    subprocess.run(
        [*launcher, "train", "config.yaml", "--output", f"p{processes}"],
        cwd=folder,
        check=True,
        capture_output=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def largest_difference(one: Path, two: Path) -> float:
    from safetensors.torch import load_file

    a, b = (load_file(str(run / "model/weights.safetensors")) for run in (one, two))
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[1200, 1300, 1301, 1500])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[4, 64])
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    print(f"{'rows':>5}  {'train':>5}  {'batch':>5}  {'last batch':>10}  {'max |w1 - w2|':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            for batch_size in args.batch_sizes:
                folder = Path(tmp) / f"r{rows}b{batch_size}"
                write_project(folder, rows, batch_size, args.epochs)
                train(folder, 1)
                train(folder, 2)
                train_rows = rows - 2 * round(0.15 * rows)  # the default 15% + 15% split
                last = train_rows % batch_size or batch_size
                difference = largest_difference(folder / "p1", folder / "p2")
                print(
                    f"{rows:>5}  {train_rows:>5}  {batch_size:>5}  {last:>10}  {difference:>13.2e}"
                )


if __name__ == "__main__":
    main()
