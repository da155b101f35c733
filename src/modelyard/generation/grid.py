"""Writing generated images: one grid PNG, or one PNG per image."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from modelyard.errors import UserError


def grid(images: torch.Tensor, columns: int | None = None, pad: int = 2) -> np.ndarray:
    """(N, C, H, W) uint8 -> (rows * (H + pad) + pad, columns * (W + pad) + pad[, 3]) uint8,
    row by row, on a white background."""
    n, c, h, w = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    canvas = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, c), 255, dtype=np.uint8)
    for i, image in enumerate(images.permute(0, 2, 3, 1).numpy()):
        top, left = pad + (i // columns) * (h + pad), pad + (i % columns) * (w + pad)
        canvas[top : top + h, left : left + w] = image
    return canvas[:, :, 0] if c == 1 else canvas


def _writable(path: Path) -> Path:
    if path.suffix.lower() != ".png":
        raise UserError(f"--out '{path}': write a .png file")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def save_grid(images: torch.Tensor, path: Path, columns: int | None = None) -> Path:
    from PIL import Image

    Image.fromarray(grid(images, columns)).save(_writable(path))
    return path


def save_each(images: torch.Tensor, folder: Path) -> list[Path]:
    """folder/00000.png, 00001.png, ... one per image."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(images.permute(0, 2, 3, 1).numpy()):
        path = folder / f"{i:05d}.png"
        Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image).save(path)
        paths.append(path)
    return paths
