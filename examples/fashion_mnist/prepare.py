"""Build Fashion-MNIST as PNG files plus CSV tables from Debian's dataset-fashion-mnist.

Reads the gzip'd idx files installed by ``sudo apt-get install dataset-fashion-mnist``
(``/usr/share/datasets/fashion-mnist/``) and writes::

    <out>/images/train/00000.png ... 59999.png   (28x28 8-bit grayscale)
    <out>/images/test/00000.png  ... 09999.png
    <out>/train.csv                             columns: image,label
    <out>/test.csv

``image`` is the PNG path relative to the CSV's folder (``images/train/00000.png``)
and ``label`` is the class name (``T-shirt/top``, ``Trouser``, ...). The file
number is the sample's index in the original idx file.

Running it again does nothing when both tables already exist with the expected
number of rows (``--force`` rebuilds). ``--limit N`` keeps the first N samples
of each split, for quick tries.

Usage::

    python examples/fashion_mnist/prepare.py [--out DIR] [--limit N] [--force]

The data set is (c) 2017 Zalando SE, MIT licence
(https://github.com/zalandoresearch/fashion-mnist); it is not committed here.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image

SOURCE_DIR = Path("/usr/share/datasets/fashion-mnist")
DEFAULT_OUT = Path(__file__).resolve().parent / "data"
CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
SPLITS = {  # split -> (images file, labels file, number of samples)
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60000),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10000),
}
WORKERS = 2
CHUNK = 2500  # images per task sent to a worker


def read_idx(path: Path, offset: int, magic: int) -> np.ndarray:
    """Read a gzip'd idx file: a big-endian header of ``offset`` bytes, then uint8 data."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    header = np.frombuffer(raw, dtype=">i4", count=offset // 4)
    if header[0] != magic:
        raise ValueError(f"{path}: bad idx magic number {header[0]} (expected {magic})")
    data = np.frombuffer(raw, dtype=np.uint8, offset=offset)
    return data.reshape(tuple(int(n) for n in header[1:]))


def load_split(source: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    images_file, labels_file, n = SPLITS[split]
    images = read_idx(source / images_file, offset=16, magic=2051)
    labels = read_idx(source / labels_file, offset=8, magic=2049)
    if images.shape != (n, 28, 28) or labels.shape != (n,):
        raise ValueError(f"{split}: unexpected shapes {images.shape}, {labels.shape}")
    return images, labels


def _write_chunk(task: tuple[str, int, np.ndarray]) -> int:
    folder, start, images = task
    for i, img in enumerate(images, start):
        Image.fromarray(img).save(os.path.join(folder, f"{i:05d}.png"))
    return len(images)


def count_rows(table: Path) -> int:
    with open(table, newline="") as f:
        return max(sum(1 for _ in csv.reader(f)) - 1, 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="keep only the first N samples of each split"
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if the tables exist")
    parser.add_argument(
        "--source", type=Path, default=SOURCE_DIR, help=f"idx files folder (default: {SOURCE_DIR})"
    )
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")

    missing = [
        args.source / name
        for images_file, labels_file, _ in SPLITS.values()
        for name in (images_file, labels_file)
        if not (args.source / name).is_file()
    ]
    if missing:
        print(
            "Fashion-MNIST idx files not found: "
            + ", ".join(str(p) for p in missing)
            + "\nInstall the Debian package first:\n\n"
            "    sudo apt-get install dataset-fashion-mnist\n",
            file=sys.stderr,
        )
        return 2

    wanted = {
        split: n if args.limit is None else min(args.limit, n)
        for split, (_, _, n) in SPLITS.items()
    }
    tables = {split: args.out / f"{split}.csv" for split in SPLITS}
    if not args.force and all(
        tables[s].is_file() and count_rows(tables[s]) == wanted[s] for s in SPLITS
    ):
        sizes = ", ".join(f"{s} {wanted[s]}" for s in SPLITS)
        print(f"fashion-mnist: {args.out} is already complete ({sizes}); nothing to do")
        return 0

    start = time.perf_counter()
    data = {}
    for split in SPLITS:
        images, labels = load_split(args.source, split)
        data[split] = images[: wanted[split]], labels[: wanted[split]]
        (args.out / "images" / split).mkdir(parents=True, exist_ok=True)
        tables[split].unlink(missing_ok=True)  # the table is written last: its presence means done

    tasks = [
        (str(args.out / "images" / split), i, images[i : i + CHUNK])
        for split, (images, _) in data.items()
        for i in range(0, len(images), CHUNK)
    ]
    with Pool(WORKERS) as pool:
        written = sum(pool.imap_unordered(_write_chunk, tasks))

    for split, (_, labels) in data.items():
        tmp = tables[split].with_suffix(".csv.tmp")
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["image", "label"])
            for i, y in enumerate(labels):
                writer.writerow([f"images/{split}/{i:05d}.png", CLASSES[y]])
        tmp.replace(tables[split])

    sizes = ", ".join(f"{s} {len(data[s][1])}" for s in SPLITS)
    print(
        f"fashion-mnist: wrote {written} PNGs and {', '.join(t.name for t in tables.values())} "
        f"to {args.out} ({sizes}) in {time.perf_counter() - start:.1f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
