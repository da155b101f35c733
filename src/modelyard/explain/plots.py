"""Figures for the explanation page, written as PNG files (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

_BAR_COLOUR = "#2563eb"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def importance_bars(values: dict[str, float], std: dict[str, float] | None, path: Path) -> None:
    """Horizontal bars of global importance, largest on top; `std` as error bars."""
    plt = _pyplot()
    ordered = sorted(values, key=lambda name: abs(values[name]))
    height = max(2.0, 0.35 * len(ordered) + 1.0)
    fig, ax = plt.subplots(figsize=(6.5, height))
    errors = [std[name] for name in ordered] if std else None
    ax.barh(ordered, [values[name] for name in ordered], xerr=errors, color=_BAR_COLOUR)
    ax.set_xlabel("drop in metric" if std else "mean |attribution|")
    ax.axvline(0, color="#6b7280", linewidth=0.8)
    _save(fig, path)


def heatmap_overlay(pixels: np.ndarray, heatmap: np.ndarray, path: Path) -> None:
    """The image (C, H, W uint8) in grey, the (H, W) attribution over it in red (towards the
    target) and blue (against), beside the heatmap alone."""
    plt = _pyplot()
    grey = pixels.astype(np.float32).mean(axis=0) / 255.0
    limit = float(np.abs(heatmap).max()) or 1.0
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.2))
    axes[0].imshow(grey, cmap="gray", vmin=0.0, vmax=1.0)
    axes[0].imshow(heatmap, cmap="bwr", vmin=-limit, vmax=limit, alpha=0.55)
    axes[0].set_title("overlay", fontsize=10)
    shown = axes[1].imshow(heatmap, cmap="bwr", vmin=-limit, vmax=limit)
    axes[1].set_title("attribution", fontsize=10)
    fig.colorbar(shown, ax=axes[1], fraction=0.046, pad=0.04)
    for ax in axes:
        ax.set_axis_off()
    _save(fig, path)


def _save(fig, path: Path) -> None:
    plt = _pyplot()
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110, bbox_inches="tight", pad_inches=0.12)
    plt.close(fig)
