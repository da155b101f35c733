"""1 process against 2 processes under torchrun, equal global batch size, same seeds.

Prints the test metric of each run and the mean of each side; the two means should agree
within the seed-to-seed spread.

    python bench/torchrun_parity.py [--config examples/digits/config.yaml] [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def train(config: str, seed: int, processes: int, out: Path) -> tuple[float, float]:
    launcher = [sys.executable, "-m", "modelyard"]
    if processes > 1:
        launcher = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            str(processes),
            "-m",
            "modelyard",
        ]
    started = time.perf_counter()
    subprocess.run(
        [*launcher, "train", config, "--output", str(out), "--set", f"trainer.seed={seed}"],
        check=True,
        capture_output=True,
        env={"OMP_NUM_THREADS": str(max(1, 2 // processes)), "PATH": "/usr/bin:/bin"},
    )
    return json.loads((out / "metrics.json").read_text())["test"], time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="examples/digits/config.yaml")
    parser.add_argument("--metric", default="accuracy")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    results: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'seed':>4}  {'processes':>9}  {args.metric:>10}  {'wall s':>7}")
        for seed in range(args.seeds):
            for processes in (1, 2):
                metrics, wall = train(
                    args.config, seed, processes, Path(tmp) / f"s{seed}p{processes}"
                )
                results[processes].append(metrics[args.metric])
                print(f"{seed:>4}  {processes:>9}  {metrics[args.metric]:>10.4f}  {wall:>7.1f}")
    for processes, values in results.items():
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(
            f"{processes} process(es): mean {args.metric} {statistics.mean(values):.4f} (sd {spread:.4f})"
        )
    print(
        f"difference of means (2 - 1): {statistics.mean(results[2]) - statistics.mean(results[1]):+.4f}"
    )


if __name__ == "__main__":
    main()
