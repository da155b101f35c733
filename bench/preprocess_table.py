"""Reading + preprocessing a large table (PERF.md: 2M rows, 10 numbers + 2 categories): this
tree's code against a baseline checkout, alternating, in fresh processes.

    python bench/preprocess_table.py [--rows 2000000] [--repeats 2] [--baseline /work/wt/base/src]

Prints the median seconds of read, fit (on all rows) and prepare (transform) for each tree,
and the ratio baseline / this tree. The table (Parquet, with some missing values) is made once
in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent / "src"


def make_table(path: Path, rows: int) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    columns = {f"x{i}": rng.normal(size=rows) for i in range(10)}
    columns["x0"][rng.random(rows) < 0.01] = np.nan
    colour = rng.choice(["red", "green", "blue", "amber", "violet"], size=rows).astype(object)
    colour[rng.random(rows) < 0.01] = None
    columns["colour"] = colour
    columns["city"] = rng.choice([f"city{i}" for i in range(300)], size=rows)
    columns["label"] = np.where(columns["x1"] > 0, "yes", "no")
    pd.DataFrame(columns).to_parquet(path)


def config() -> dict:
    return {
        "name": "bench",
        "inputs": [{"name": f"x{i}", "type": "number"} for i in range(10)]
        + [{"name": "colour", "type": "category"}, {"name": "city", "type": "category"}],
        "outputs": [{"name": "label", "type": "category"}],
    }


def worker(path: Path) -> dict[str, float]:
    """Seconds of each step, in this process (PYTHONPATH picks the tree)."""
    from modelyard.config import validate
    from modelyard.data.features import Preprocessing
    from modelyard.data.read import read_table

    times = {}
    started = time.perf_counter()
    frame = read_table(path)
    times["read"] = time.perf_counter() - started
    preprocessing = Preprocessing(validate(config()))
    started = time.perf_counter()
    preprocessing.fit(frame)
    times["fit"] = time.perf_counter() - started
    started = time.perf_counter()
    preprocessing.prepare(frame, "train")
    times["prepare"] = time.perf_counter() - started
    times["total"] = times["read"] + times["fit"] + times["prepare"]
    return times


def run(src: str, path: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, __file__, "--worker", str(path)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--baseline", default="/work/wt/base/src")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(Path(args.worker))))
        return
    trees = {"baseline": args.baseline, "this tree": str(HERE)}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "table.parquet"
        make_table(path, args.rows)
        results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        for _ in range(args.repeats):
            for name, src in trees.items():
                results[name].append(run(src, path))
    steps = ["read", "fit", "prepare", "total"]
    print(f"{args.rows:,} rows, 10 numbers + 2 categories, median of {args.repeats}")
    print(f"{'':12}" + "".join(f"{s:>10}" for s in steps))
    medians = {
        name: {s: statistics.median(r[s] for r in runs) for s in steps}
        for name, runs in results.items()
    }
    for name, m in medians.items():
        print(f"{name:12}" + "".join(f"{m[s]:9.2f}s" for s in steps))
    ratio = medians["baseline"]["total"] / medians["this tree"]["total"]
    print(f"\nbaseline / this tree (total): {ratio:.1f}x")


if __name__ == "__main__":
    main()
