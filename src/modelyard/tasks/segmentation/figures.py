"""Mask files and report figures: predicted masks as PNG files, overlays of true and predicted
masks on their images, per-class IoU bars."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch


def write_masks(encoded: Sequence[str], folder: Path) -> list[Path]:
    """Base64 PNG masks -> files `folder/00000.png`, ... (folder created); their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, text in enumerate(encoded):
        path = folder / f"{i:05d}.png"
        path.write_bytes(base64.b64decode(text))
        paths.append(path)
    return paths


def palette(classes: int) -> np.ndarray:
    """(classes, 3) uint8 colours: background black, the others from matplotlib's tab10
    (tab20 beyond 10 classes)."""
    from matplotlib import colormaps

    name, count = ("tab10", 10) if classes <= 11 else ("tab20", 20)
    colours = colormaps[name](np.arange(max(classes - 1, 1)) % count)[:, :3]
    return np.vstack([[0, 0, 0], (colours * 255).round()]).astype(np.uint8)[:classes]


def tinted(image: np.ndarray, mask: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """(H, W) grayscale or (H, W, 3) image, (H, W) classes -> (H, W, 3) uint8: each object
    pixel half its class colour, background pixels as they are; ignored pixels (255) white."""
    rgb = np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image
    rgb = rgb.astype(np.float32)
    known = mask < len(colours)
    colour = colours[np.where(known, mask, 0)].astype(np.float32)
    blended = np.where((mask > 0)[..., None] & known[..., None], 0.5 * rgb + 0.5 * colour, rgb)
    blended[~known] = 255
    return blended.round().astype(np.uint8)


def overlays(feature, table, predicted: torch.Tensor, target: torch.Tensor) -> dict[str, Any]:
    """A figure of the split's first images: image, truth and prediction coloured over it."""
    from modelyard.report.plots import _encode, _pyplot

    images = _images(feature, table, len(predicted))
    colours = palette(len(feature.classes))
    plt = _pyplot()
    rows, legend_rows = len(images), -(-(len(colours) - 1) // 3)
    fig, axes = plt.subplots(
        rows + 1,
        3,
        figsize=(6.6, 2.2 * rows + 0.25 * legend_rows),
        squeeze=False,
        gridspec_kw={"height_ratios": [2.2] * rows + [0.25 * legend_rows]},
    )
    for row, image in enumerate(images):
        views = (
            image,
            tinted(image, target[row].numpy(), colours),
            tinted(image, predicted[row].numpy(), colours),
        )
        for col, (view, title) in enumerate(
            zip(views, ("image", "truth", "predicted"), strict=True)
        ):
            ax = axes[row][col]
            ax.imshow(view, cmap="gray" if view.ndim == 2 else None, vmin=0, vmax=255)
            ax.set_axis_off()
            if row == 0:
                ax.set_title(title, fontsize=9)
    for ax in axes[rows]:
        ax.set_axis_off()
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[i] / 255) for i in range(1, len(colours))]
    axes[rows][1].legend(
        handles, feature.classes[1:], loc="center", ncol=3, fontsize=8, frameon=False
    )
    fig.tight_layout()
    return {
        "caption": "Masks over the first images (truth, prediction)",
        "png": _encode(fig),
        "wide": False,
    }


def _images(feature, table, rows: int) -> list[np.ndarray]:
    """The first `rows` images of the split as (H, W) or (H, W, 3) uint8 arrays."""
    image = feature.image
    pixels = table.tensors.get(image.name)
    if pixels is None:  # left as files (data.streaming): decode the few shown
        pixels = image.transform(image.column_of(table.frame.iloc[:rows]))
    pixels = pixels[:rows].to(torch.uint8).numpy()
    return [p[0] if p.shape[0] == 1 else p.transpose(1, 2, 0) for p in pixels]


def per_class_bars(classes: list[str], iou: list[float]) -> dict[str, Any]:
    """A bar per class of its IoU over the split (absent classes left blank)."""
    from modelyard.report.plots import _encode, _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 0.3 * len(classes) + 1))
    values = [0.0 if np.isnan(v) else v for v in iou]
    ax.barh(range(len(classes)), values, color="#4878a8")
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("IoU over every pixel of the split")
    for i, v in enumerate(iou):
        ax.text(
            min(values[i], 0.85) + 0.01,
            i,
            "absent" if np.isnan(v) else f"{v:.3f}",
            va="center",
            fontsize=7,
        )
    fig.tight_layout()
    return {"caption": "IoU per class", "png": _encode(fig), "wide": False}
