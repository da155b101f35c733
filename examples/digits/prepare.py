"""Write scikit-learn's 8x8 handwritten digits as PNG files, one folder per class.

Layout (an image-folder data set)::

    <out>/0/0000.png
    <out>/0/0010.png
    ...
    <out>/9/1796.png

The file name is the sample's index in ``sklearn.datasets.load_digits()``; pixel
values 0..16 are scaled to 0..255 (8-bit grayscale). Running it again does
nothing when all 1,797 images are already there (use ``--force`` to rewrite).

Usage::

    python examples/digits/prepare.py [--out DIR] [--force]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "images"


def expected_paths(out: Path, labels: np.ndarray) -> list[Path]:
    width = len(str(len(labels) - 1))
    return [out / str(int(y)) / f"{i:0{width}d}.png" for i, y in enumerate(labels)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"output folder (default: {DEFAULT_OUT})",
    )
    parser.add_argument("--force", action="store_true", help="rewrite existing images")
    args = parser.parse_args(argv)

    digits = load_digits()
    images = np.rint(digits.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    labels = digits.target
    paths = expected_paths(args.out, labels)

    if not args.force and all(p.is_file() for p in paths):
        print(f"digits: {len(paths)} images already in {args.out}; nothing to do")
        return 0

    start = time.perf_counter()
    for cls in np.unique(labels):
        (args.out / str(int(cls))).mkdir(parents=True, exist_ok=True)
    written = 0
    for img, path in zip(images, paths, strict=True):
        if args.force or not path.is_file():
            Image.fromarray(img).save(path)
            written += 1
    counts = np.bincount(labels, minlength=10)
    per_class = ", ".join(f"{c}:{n}" for c, n in enumerate(counts))
    print(
        f"digits: wrote {written} of {len(paths)} 8x8 PNGs to {args.out} "
        f"in {time.perf_counter() - start:.1f}s (per class {per_class})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
