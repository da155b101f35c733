"""Streaming a Parquet table against reading it into memory (issue 11).

    python bench/stream_table.py [--rows 2000000] [--repeats 2] [--epochs 1]
    python bench/stream_table.py --rows 50000000 --only streaming --repeats 1

The table: `rows` rows of 10 number columns (float32), 2 category columns (5 and 300 values,
some missing) and a binary label, written in row groups of 100,000 rows into a folder under
/tmp (reused). Each run is `modelyard train` in a fresh process with data.split by hash (1%
validation, 1% test), one MLP, batch 1024, `epochs` epochs, alternating in-memory and
streaming runs. Prints, per mode, the median wall time, the training throughput (rows/s of
the epoch lines) and the peak resident memory of the whole process tree (the training process
and its DataLoader workers, their proportional set sizes summed, sampled every 0.2 s), and the ratio streaming / in memory.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

GROUP_ROWS = 100_000


def make_table(path: Path, rows: int) -> None:
    """Written in slices of a million rows, so that making it needs little memory too."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.is_file() and pq.ParquetFile(path).metadata.num_rows == rows:
        return
    rng = np.random.default_rng(0)
    colours = np.array(["red", "green", "blue", "amber", "violet"], dtype=object)
    cities = np.array([f"city{i}" for i in range(300)], dtype=object)
    writer = None
    for start in range(0, rows, 1_000_000):
        n = min(1_000_000, rows - start)
        columns = {f"x{i}": rng.normal(size=n).astype(np.float32) for i in range(10)}
        columns["x0"][rng.random(n) < 0.01] = np.nan
        colour = colours[rng.integers(0, 5, n)]
        colour[rng.random(n) < 0.01] = None
        columns["colour"] = colour
        columns["city"] = cities[rng.integers(0, 300, n)]
        score = columns["x1"] + 0.5 * columns["x2"] + rng.normal(scale=0.5, size=n)
        columns["label"] = np.where(score > 0, "yes", "no")
        table = pa.table(columns)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=GROUP_ROWS)
    writer.close()


def write_config(folder: Path, table: Path, epochs: int) -> Path:
    config = {
        "name": "stream_bench",
        "data": {"train": str(table), "split": {"by": "hash", "validation": 0.01, "test": 0.01}},
        "inputs": [{"name": f"x{i}", "type": "number"} for i in range(10)]
        + [{"name": "colour", "type": "category"}, {"name": "city", "type": "category"}],
        "outputs": [{"name": "label", "type": "binary"}],
        "trainer": {"epochs": epochs, "batch_size": 1024, "keep": "last"},
        "tracking": {"tensorboard": False},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def tree_rss(root: int) -> int:
    """Resident bytes of `root` and its descendants, from /proc: their proportional set sizes
    (Pss: a page shared by n processes, as DataLoader workers share their parent's, counts
    1/n in each), so that the sum is the memory the tree really holds."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            status = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        found = re.search(r"Pss:\s+(\d+) kB", status)
        total += int(found.group(1)) * 1024 if found else 0
    return total


def train(config: Path, streaming: bool, out: Path) -> dict[str, float]:
    command = [
        sys.executable,
        "-m",
        "modelyard",
        "train",
        str(config),
        "--output",
        str(out),
        "--overwrite",
        "--set",
        f"data.streaming={'true' if streaming else 'false'}",
    ]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_rss(process.pid))
        time.sleep(0.2)
    output = process.stdout.read()
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"training failed:\n{output[-3000:]}")
    rates = [float(r.replace(",", "")) for r in re.findall(r"([\d,]+) samples/s", output)]
    return {"wall": wall, "rows_per_s": statistics.median(rates), "peak_gib": peak / 2**30}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--only", choices=["streaming", "memory"])
    parser.add_argument("--folder", default="/tmp/modelyard-stream-bench")
    args = parser.parse_args()
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    table = folder / f"table-{args.rows}.parquet"
    make_table(table, args.rows)
    config = write_config(folder, table, args.epochs)
    modes = {"memory": False, "streaming": True}
    if args.only:
        modes = {args.only: modes[args.only]}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in modes}
    for _ in range(args.repeats):
        for name, streaming in modes.items():
            results[name].append(train(config, streaming, folder / f"run-{name}"))
    size = table.stat().st_size / 2**20
    print(
        f"{args.rows:,} rows ({size:.0f} MB Parquet), {args.epochs} epoch(s), median of {args.repeats}"
    )
    print(f"{'':10}{'wall':>10}{'rows/s':>12}{'peak RSS':>12}")
    medians = {}
    for name, runs in results.items():
        m = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        medians[name] = m
        print(f"{name:10}{m['wall']:9.1f}s{m['rows_per_s']:12,.0f}{m['peak_gib']:10.2f}GiB")
    if len(medians) == 2:
        ratio = medians["streaming"]["rows_per_s"] / medians["memory"]["rows_per_s"]
        print(f"\nstreaming / in memory (training rows/s): {ratio:.2f}x")


if __name__ == "__main__":
    main()
