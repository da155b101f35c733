"""Tiny image sets for the image-generation tests: 12x12 grayscale shapes (a square, a bar,
a dot) with noise, written as PNGs with a CSV, or as a class-per-subfolder folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SHAPES = ("Bar", "Dot", "Square")


def shape_image(label: str, rng: np.random.Generator, size: int = 12) -> np.ndarray:
    a = np.zeros((size, size), np.uint8)
    if label == "Square":
        a[3:9, 3:9] = 255
    elif label == "Bar":
        a[:, 5:7] = 255
    else:
        a[5:7, 5:7] = 255
    return np.clip(a.astype(int) + rng.integers(0, 30, a.shape), 0, 255).astype(np.uint8)


def write_table(folder: Path, rows: int = 36, name: str = "train.csv", seed: int = 0) -> Path:
    """folder/name with columns image,label; images in folder/images_<name stem>/."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    images = folder / f"images_{Path(name).stem}"
    images.mkdir(parents=True, exist_ok=True)
    lines = ["image,label"]
    for i in range(rows):
        label = SHAPES[i % len(SHAPES)]
        Image.fromarray(shape_image(label, rng)).save(images / f"{i}.png")
        lines.append(f"{images.name}/{i}.png,{label}")
    (folder / name).write_text("\n".join(lines) + "\n")
    return folder / name


def write_folder(folder: Path, per_class: int = 8) -> Path:
    """folder/<class>/<i>.png"""
    from PIL import Image

    rng = np.random.default_rng(1)
    for label in SHAPES:
        (folder / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(shape_image(label, rng)).save(folder / label / f"{i}.png")
    return folder
