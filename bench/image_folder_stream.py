"""An image folder decoded by DataLoader workers (data.streaming: true) against the same
folder decoded whole into memory (data.streaming: false).

The folder: at least 200,000 PNGs in class subfolders, made from Fashion-MNIST (Debian
package dataset-fashion-mnist: `apt-get install -y dataset-fashion-mnist`): the 70,000
originals, then flipped and shifted copies, written with Pillow by a pool of processes,
under /tmp (reused when complete). A subset of `--subset` images (hard links) fits in memory.

Each run is `modelyard train` on the folder in a subprocess of its own: one epoch of a small
cnn (batch 128, 5% validation rows, no test split), with `--workers` DataLoader workers when
streaming. Figures per run: the epoch's rows/s (training plus validation, the epoch line's
samples/s; the in-memory path decoded every image before it), the whole command's wall and
CPU time (training process and workers: on a shared machine wall times drift with the
load), and the peak resident memory of the training process and of its largest worker
(getrusage in the subprocess). The baseline: the in-memory path on the subset; the ratios
are streamed / in-memory epoch rows/s, and whole-command CPU and wall time, on it.

    python bench/image_folder_stream.py [--count 200000] [--subset 20000] [--workers 1]
        [--full-in-memory]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

SOURCE = Path("/usr/share/datasets/fashion-mnist")
CLASSES = [
    "tshirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "boot",
]
# copy k of an image: the original, flipped, then shifted by (dy, dx) pixels, flipped or not
VARIANTS = [(0, 0, False), (0, 0, True), (2, 0, False), (0, 2, True), (-2, 0, False)]
VARIANTS += [(0, -2, True), (2, 2, False), (-2, -2, True)]

# the training subprocess: runs the CLI, then writes its own and its children's (workers')
# peak RSS (KiB) and CPU seconds
CHILD = """
import json, resource, sys
from modelyard.cli import main
code = main(sys.argv[2:])
usage = {}
for who in ("SELF", "CHILDREN"):
    r = resource.getrusage(getattr(resource, "RUSAGE_" + who))
    usage[who] = {"rss": r.ru_maxrss, "cpu": r.ru_utime + r.ru_stime}
open(sys.argv[1], "w").write(json.dumps({"code": code, **usage}))
sys.exit(code)
"""


def read_idx(name: str, offset: int) -> np.ndarray:
    with gzip.open(SOURCE / name) as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def fashion_mnist() -> tuple[np.ndarray, np.ndarray]:
    """(70000, 28, 28) uint8 images and (70000,) labels: training and test files together."""
    images = [
        read_idx(f"{s}-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28) for s in ("train", "t10k")
    ]
    labels = [read_idx(f"{s}-labels-idx1-ubyte.gz", 8) for s in ("train", "t10k")]
    return np.concatenate(images), np.concatenate(labels)


def _variant(image: np.ndarray, k: int) -> np.ndarray:
    dy, dx, flip = VARIANTS[k]
    out = np.roll(image, (dy, dx), axis=(0, 1))
    return out[:, ::-1] if flip else out


_LOADED: tuple[np.ndarray, np.ndarray] | None = None  # in each writing process


def _load() -> None:
    global _LOADED
    _LOADED = fashion_mnist()


def _write_chunk(job: tuple[Path, int, int]) -> None:
    from PIL import Image

    folder, start, stop = job
    images, labels = _LOADED
    for i in range(start, stop):
        k, j = divmod(i, len(images))
        path = folder / CLASSES[labels[j]] / f"{i:07d}.png"
        Image.fromarray(np.ascontiguousarray(_variant(images[j], k))).save(path)


def build_folder(folder: Path, count: int, jobs: int) -> str:
    """`count` PNGs in `folder`/<class>/ (kept and reused once complete); says what it did."""
    done = folder / ".complete"
    if done.is_file() and int(done.read_text()) == count:
        return f"{folder}: {count:,} PNGs (reused)"
    if not SOURCE.is_dir():
        sys.exit("needs Fashion-MNIST: apt-get install -y dataset-fashion-mnist")
    if count > len(VARIANTS) * 70_000:
        sys.exit(f"--count: at most {len(VARIANTS) * 70_000:,}")
    started = time.perf_counter()
    for name in CLASSES:
        (folder / name).mkdir(parents=True, exist_ok=True)
    chunk = 5000
    with Pool(jobs, initializer=_load) as pool:
        pool.map(_write_chunk, [(folder, s, min(s + chunk, count)) for s in range(0, count, chunk)])
    done.write_text(str(count))
    return f"{folder}: {count:,} PNGs written in {time.perf_counter() - started:.0f} s by {jobs} processes"


def subset_folder(full: Path, folder: Path, count: int) -> None:
    """The first `count` images of `full` (an equal share of each class), hard-linked."""
    done = folder / ".complete"
    if done.is_file() and int(done.read_text()) == count:
        return
    for name in CLASSES:
        (folder / name).mkdir(parents=True, exist_ok=True)
        for path in sorted((full / name).iterdir())[: count // len(CLASSES)]:
            if not (folder / name / path.name).exists():
                os.link(path, folder / name / path.name)
    done.write_text(str(count))


def write_config(project: Path, data: Path) -> Path:
    import yaml

    config = {
        "name": "fashion",
        "data": {"train": str(data), "split": {"validation": 0.05, "test": 0.0, "seed": 0}},
        "inputs": [
            {
                "name": "image",
                "type": "image",
                "encoder": {"type": "cnn", "channels": [8, 16], "output_size": 32},
            }
        ],
        "outputs": [{"name": "label", "type": "category"}],
        "trainer": {"epochs": 1, "batch_size": 128, "optimizer": {"type": "adam", "lr": 0.002}},
    }
    path = project / f"{data.name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def train(config: Path, streaming: bool, workers: int) -> dict:
    """One `modelyard train` in a subprocess: its epoch line's figures, wall and CPU time
    (the training process's and its workers'), peak RSS."""
    with tempfile.TemporaryDirectory() as out:
        usage = Path(out) / "usage.json"
        args = [str(config), "--output", str(Path(out) / "run")]
        args += [
            "--set",
            f"data.streaming={str(streaming).lower()}",
            "--set",
            f"data.workers={workers}",
        ]
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", CHILD, str(usage), "train", *args],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        wall = time.perf_counter() - started
        if result.returncode != 0:
            sys.exit(f"training failed:\n{result.stderr[-3000:]}")
        found = json.loads(usage.read_text())
    epoch = re.search(r"epoch 1/1 .*?([\d.]+)s\s+([\d,]+) samples/s", result.stderr)
    return {
        "epoch_s": float(epoch.group(1)),
        "rows_per_s": float(epoch.group(2).replace(",", "")),
        "wall_s": wall,
        "cpu_s": found["SELF"]["cpu"] + found["CHILDREN"]["cpu"],
        "rss_main_mib": found["SELF"]["rss"] / 1024,
        "rss_worker_mib": found["CHILDREN"]["rss"] / 1024 if streaming and workers else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--subset", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2, help="processes writing the PNGs")
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument(
        "--full-in-memory",
        action="store_true",
        help="also the in-memory path on the whole folder (Fashion-MNIST's small images fit)",
    )
    args = parser.parse_args()
    full = args.root / f"modelyard-fashion-{args.count}"
    subset = args.root / f"modelyard-fashion-{args.count}-first-{args.subset}"
    print(build_folder(full, args.count, args.jobs), flush=True)
    subset_folder(full, subset, args.subset)
    rows = {"full": args.count, "subset": args.subset // len(CLASSES) * len(CLASSES)}
    with tempfile.TemporaryDirectory() as project:
        configs = {
            name: write_config(Path(project), f) for name, f in (("full", full), ("subset", subset))
        }
        runs = [
            (f"in memory, {rows['subset']:,} images", train(configs["subset"], False, 0)),
            (f"streamed, {rows['subset']:,} images", train(configs["subset"], True, args.workers)),
            (f"streamed, {rows['full']:,} images", train(configs["full"], True, args.workers)),
        ]
        if args.full_in_memory:
            runs.append((f"in memory, {rows['full']:,} images", train(configs["full"], False, 0)))
    print(
        f"one epoch of a small cnn (batch 128, 5% validation); streamed with {args.workers} worker(s)"
    )
    print(
        f"{'run':28} {'epoch rows/s':>12} {'epoch s':>8} {'wall s':>8} {'CPU s':>7} "
        f"{'peak RSS MiB':>13} {'worker MiB':>11}"
    )
    for name, r in runs:
        print(
            f"{name:28} {r['rows_per_s']:12,.0f} {r['epoch_s']:8.1f} {r['wall_s']:8.1f} "
            f"{r['cpu_s']:7.1f} {r['rss_main_mib']:13,.0f} {r['rss_worker_mib']:11,.0f}"
        )
    decoded = rows["full"] * 28 * 28 / 2**20
    print(f"(the {rows['full']:,} images decoded in memory take {decoded:,.0f} MiB of pixels)")
    memory, streamed = runs[0][1], runs[1][1]
    print(
        f"streamed / in memory on {rows['subset']:,} images: epoch rows/s "
        f"{streamed['rows_per_s'] / memory['rows_per_s']:.2f}, whole command CPU time "
        f"{streamed['cpu_s'] / memory['cpu_s']:.2f}, wall time {streamed['wall_s'] / memory['wall_s']:.2f}"
    )


if __name__ == "__main__":
    main()
