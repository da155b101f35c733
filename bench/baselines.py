"""What baselines add to a run: `modelyard train examples/penguins/config.yaml` with
`baselines=true` (the default) against `baselines=false` as the reference.

Runs the two alternately, in fresh processes, and prints the medians of wall time and of CPU
time (user + system: what the baselines cost, whatever else the machine runs) and their ratios.

    python bench/baselines.py [--repeats 3] [--config examples/penguins/config.yaml]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _train(config: Path, baselines: bool, out: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one `modelyard train`."""
    command = [sys.executable, "-m", "modelyard", "train", str(config), "--output", str(out)]
    command += ["--set", f"baselines={str(baselines).lower()}", "--quiet"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=config.parent)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--config", type=Path, default=Path("examples/penguins/config.yaml"))
    args = parser.parse_args()
    config = args.config.resolve()
    times: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as scratch:
        for i in range(args.repeats):
            for baselines in (True, False):
                out = Path(scratch) / f"run-{baselines}-{i}"
                times[baselines].append(_train(config, baselines, out))
    for index, what in ((0, "wall"), (1, "CPU")):
        with_, without = (statistics.median(t[index] for t in times[b]) for b in (True, False))
        print(
            f"{what:4}: train with baselines {with_:6.2f} s, baselines: false {without:6.2f} s "
            f"(reference); added {with_ - without:+.2f} s, ratio {with_ / without:.2f}x"
        )


if __name__ == "__main__":
    main()
