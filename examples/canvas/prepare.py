"""Build object detection and segmentation sets from real Fashion-MNIST objects placed on
larger canvases (the construction of the "MNIST detection" benchmarks).

Each canvas is a black SIZE x SIZE grayscale image holding 2 to 5 Fashion-MNIST objects, each
scaled by a random factor (0.8 to 1.6, so 22 to 45 pixels wide), placed at a random position.
Objects may overlap (a later object is pasted over an earlier one: occlusion), but a placement
whose box overlaps an earlier box by more than IoU 0.4, or that would hide more than half of an
earlier object's pixels, is drawn again. Training canvases use objects from Fashion-MNIST's
training split, test canvases objects from its test split, so no object is seen in both.

Writes, under ``--out`` (default ``examples/canvas/data``)::

    images/<split>/00000.png       SIZE x SIZE 8-bit grayscale canvases
    masks/<split>/00000.png        SIZE x SIZE 8-bit class per pixel: 0 background, k + 1 the
                                   k-th class of CLASSES (the visible part of each object's
                                   silhouette: its ink and the holes the ink encloses)
    boxes_<split>.csv              image,x1,y1,x2,y2,label: one row per object; pixel
                                   coordinates, x2/y2 exclusive (the box of the object's
                                   pixels above the ink threshold, occluded parts included)
    segmentation_<split>.csv       image,mask: one row per canvas
    classes.txt                    the mask values' class names, in order (value 1 first)

for the splits ``train``, ``validation`` and ``test``. Paths in the CSVs are relative to the
CSV's folder. Running it again with the same arguments does nothing (``--force`` rebuilds).

Usage::

    python examples/canvas/prepare.py [--train 12000] [--validation 1000] [--test 2000]
                                      [--size 96] [--seed 0] [--out DIR] [--force]

Needs ``sudo apt-get install dataset-fashion-mnist``. The objects are (c) 2017 Zalando SE,
MIT licence; nothing built here is committed.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import binary_fill_holes

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
INK = 30  # an object's pixels: brighter than this (of 255), and the holes they enclose
MAX_IOU = 0.4  # a new object's box may overlap an earlier one's by at most this much
MAX_HIDDEN = 0.5  # ... and hide at most this share of an earlier object's visible pixels


def read_idx(path: Path, offset: int) -> np.ndarray:
    """A gzip'd idx file: big-endian int32 header of `offset` bytes, then uint8 data."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    header = np.frombuffer(raw, dtype=">i4", count=offset // 4)
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(
        tuple(int(n) for n in header[1:])
    )


def load(source: Path, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28) uint8 objects and their (N,) class indices."""
    images = read_idx(source / f"{prefix}-images-idx3-ubyte.gz", 16)
    labels = read_idx(source / f"{prefix}-labels-idx1-ubyte.gz", 8)
    return images, labels


def scaled(item: np.ndarray, factor: float) -> np.ndarray:
    """(28, 28) uint8 -> (s, s) uint8, s = round(28 * factor), bilinear."""
    side = max(8, round(28 * factor))
    return np.asarray(Image.fromarray(item).resize((side, side), Image.BILINEAR))


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes, x2/y2 exclusive."""
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def canvas(
    objects: np.ndarray, labels: np.ndarray, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int, int, int]]]:
    """One canvas: ((size, size) uint8 image, (size, size) uint8 mask, [(x1, y1, x2, y2,
    class)]). Objects whose placement breaks the overlap limits are drawn again (at most
    50 tries per object; a canvas may end with fewer objects than drawn)."""
    image = np.zeros((size, size), np.uint8)
    owner = np.full((size, size), -1, np.int16)  # which object each pixel shows
    boxes: list[tuple[int, int, int, int, int]] = []
    wanted = int(rng.integers(2, 6))
    for _ in range(wanted * 50):
        if len(boxes) == wanted:
            break
        index = int(rng.integers(len(objects)))
        item = scaled(objects[index], float(rng.uniform(0.8, 1.6)))
        ink = binary_fill_holes(item > INK)  # the silhouette: dark patterns inside count
        if not ink.any():
            continue
        side = item.shape[0]
        x0, y0 = (int(v) for v in rng.integers(0, size - side + 1, size=2))
        rows, cols = np.nonzero(ink)
        box = (x0 + cols.min(), y0 + rows.min(), x0 + cols.max() + 1, y0 + rows.max() + 1)
        if any(iou(box, b[:4]) > MAX_IOU for b in boxes):
            continue
        window = (slice(y0, y0 + side), slice(x0, x0 + side))
        covered = owner[window][ink]
        if any(
            np.count_nonzero(covered == k) > MAX_HIDDEN * np.count_nonzero(owner == k)
            for k in range(len(boxes))
        ):
            continue
        image[window][ink] = item[ink]
        owner[window][ink] = len(boxes)
        boxes.append((*box, int(labels[index])))
    mask = np.zeros((size, size), np.uint8)
    for k, (*_, label) in enumerate(boxes):
        mask[owner == k] = label + 1
    return image, mask, boxes


def write_split(out: Path, split: str, count: int, objects, labels, size: int, seed: int) -> None:
    rng = np.random.default_rng([seed, ["train", "validation", "test"].index(split)])
    (out / "images" / split).mkdir(parents=True, exist_ok=True)
    (out / "masks" / split).mkdir(parents=True, exist_ok=True)
    box_rows, mask_rows = [], []
    for n in range(count):
        image, mask, boxes = canvas(objects, labels, size, rng)
        name = f"{n:05d}.png"
        Image.fromarray(image).save(out / "images" / split / name)
        Image.fromarray(mask).save(out / "masks" / split / name)
        path = f"images/{split}/{name}"
        box_rows += [[path, x1, y1, x2, y2, CLASSES[c]] for x1, y1, x2, y2, c in boxes]
        mask_rows.append([path, f"masks/{split}/{name}"])
    for file, header, rows in [
        (f"boxes_{split}.csv", ["image", "x1", "y1", "x2", "y2", "label"], box_rows),
        (f"segmentation_{split}.csv", ["image", "mask"], mask_rows),
    ]:
        with open(out / file, "w", newline="") as f:
            csv.writer(f).writerows([header, *rows])
    print(f"{split}: {count} canvases, {len(box_rows)} objects", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=int, default=12000, help="training canvases")
    parser.add_argument("--validation", type=int, default=1000, help="validation canvases")
    parser.add_argument("--test", type=int, default=2000, help="test canvases")
    parser.add_argument("--size", type=int, default=96, help="canvas side in pixels (>= 64)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--source", type=Path, default=SOURCE_DIR)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--force", action="store_true", help="rebuild even if built")
    args = parser.parse_args(argv)
    if args.size < 64:
        parser.error("--size must be at least 64 (objects are up to 45 pixels wide)")
    if not (args.source / "train-images-idx3-ubyte.gz").exists():
        print(
            f"error: no Fashion-MNIST in {args.source}: sudo apt-get install "
            "dataset-fashion-mnist (or pass --source)",
            file=sys.stderr,
        )
        return 2
    stamp = args.out / "built.json"
    wanted = {k: getattr(args, k) for k in ("train", "validation", "test", "size", "seed")}
    if not args.force and stamp.exists() and json.loads(stamp.read_text()) == wanted:
        print(f"{args.out}: already built with these arguments (--force rebuilds)")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    train_objects, train_labels = load(args.source, "train")
    test_objects, test_labels = load(args.source, "t10k")
    # validation canvases take objects the training canvases never use (the last 10,000)
    fit, held = slice(0, 50000), slice(50000, 60000)
    write_split(
        args.out, "train", args.train, train_objects[fit], train_labels[fit], args.size, args.seed
    )
    write_split(
        args.out,
        "validation",
        args.validation,
        train_objects[held],
        train_labels[held],
        args.size,
        args.seed,
    )
    write_split(args.out, "test", args.test, test_objects, test_labels, args.size, args.seed)
    (args.out / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    stamp.write_text(json.dumps(wanted))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
