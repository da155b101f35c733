"""What baselines add to a run: `modelyard train examples/penguins/config.yaml` with
`baselines=true` (the default) against `baselines=false` as the reference.

Runs the two alternately, in fresh processes, and prints the medians and their ratio.

    python bench/baselines.py [--repeats 3] [--config examples/penguins/config.yaml]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _train(config: Path, baselines: bool, out: Path) -> float:
    command = [sys.executable, "-m", "modelyard", "train", str(config), "--output", str(out)]
    command += ["--set", f"baselines={str(baselines).lower()}", "--quiet"]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=config.parent)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--config", type=Path, default=Path("examples/penguins/config.yaml"))
    args = parser.parse_args()
    config = args.config.resolve()
    times: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as scratch:
        for i in range(args.repeats):
            for baselines in (True, False):
                out = Path(scratch) / f"run-{baselines}-{i}"
                times[baselines].append(_train(config, baselines, out))
    with_, without = (statistics.median(times[b]) for b in (True, False))
    print(f"train with baselines     {with_:6.2f} s")
    print(f"train, baselines: false  {without:6.2f} s (reference)")
    print(f"added: {with_ - without:.2f} s, ratio {with_ / without:.2f}x")


if __name__ == "__main__":
    main()
