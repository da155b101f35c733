"""Figures for the HTML report, each returned as a base64-encoded PNG string.

matplotlib is imported inside each function (Agg backend) so importing this module is cheap.
"""

from __future__ import annotations

import base64
import io
import itertools
import math
from collections.abc import Sequence
from typing import Any

_SPLIT_PREFIXES = ("train_", "validation_")
_NOT_CURVES = frozenset({"epoch", "seconds", "lr"})
_ROC_LEGEND_INSIDE = 8  # with more classes the ROC legend goes beside the plot
_COLORS = {"train": "#2563eb", "validation": "#ea580c"}


def learning_curves(history: list[dict[str, Any]]) -> str | None:
    """One panel per quantity in `history`: loss first, then metrics, then learning rate.

    Train and validation values of the same quantity share a panel. None if history is empty.
    """
    if not history:
        return None
    names = _curve_names(history)
    panels = [*names, "lr"] if any("lr" in row for row in history) else names
    if not panels:
        return None
    plt = _pyplot()
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.1 * rows), squeeze=False)
    for ax, name in zip(axes.flat, panels, strict=False):
        _plot_curve(ax, history, name)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    return _encode(fig)


def confusion_matrix(matrix: Sequence[Sequence[int]], classes: Sequence[str]) -> str:
    """Heatmap coloured by row share (recall), annotated with counts; rows = true class."""
    import numpy as np

    plt = _pyplot()
    counts = np.asarray(matrix, dtype=np.int64)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    n = len(classes)
    size = min(7.5, max(3.8, 0.28 * n + 2.2))  # inches; drawn at about native size in the report
    font = 10 if n <= 8 else (9 if n <= 14 else 8)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of true class")
    labels = [_shorten(str(name)) for name in classes]
    ax.set_xticks(
        range(n),
        labels,
        rotation=45 if n > 3 else 0,
        ha="right" if n > 3 else "center",
        fontsize=font,
    )
    ax.set_yticks(range(n), labels, fontsize=font)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(n):
        for j in range(n):
            color = "white" if shares[i, j] > 0.55 else "#1f2937"
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", color=color, fontsize=font)
    return _encode(fig)


def roc_curves(roc: dict[str, dict[str, Any]]) -> str | None:
    """ROC curves, one line per class with its AUC in the legend. None if there are none."""
    if not roc:
        return None
    plt = _pyplot()
    many = len(roc) > _ROC_LEGEND_INSIDE
    fig, ax = plt.subplots(figsize=(8.2 if many else 5.2, 4.6))
    ax.plot([0, 1], [0, 1], linestyle="--", color="#9ca3af", linewidth=1)
    colors = plt.get_cmap("tab20" if many else "tab10").colors
    for (name, curve), color in zip(roc.items(), itertools.cycle(colors), strict=False):
        label = f"{_shorten(name)} (AUC {curve['auc']:.3f})"
        ax.plot(curve["fpr"], curve["tpr"], linewidth=1.4, color=color, label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    if many:
        ax.legend(
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            fontsize=7,
            ncol=1 if len(roc) <= 14 else 2,
        )
    else:
        ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return _encode(fig)


def precision_recall(pr: dict[str, Any]) -> str:
    """A binary output's precision-recall curve (steps, as average precision sums them), its
    average precision in the legend, and the precision of random guessing (the prevalence)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    ax.axhline(pr["prevalence"], linestyle="--", color="#9ca3af", linewidth=1, label="random")
    label = f"{_shorten(str(pr['class']))} (AP {pr['average_precision']:.3f})"
    ax.plot(pr["recall"], pr["precision"], drawstyle="steps-pre", linewidth=1.4, label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    return _encode(fig)


def prediction_scatter(true: Sequence[float], predicted: Sequence[float]) -> str | None:
    """Predicted against true values with the y = x line. None if there are no points."""
    if len(true) == 0:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    low = min(min(true), min(predicted))
    high = max(max(true), max(predicted))
    pad = 0.05 * (high - low or 1.0)
    ax.plot(
        [low - pad, high + pad],
        [low - pad, high + pad],
        linestyle="--",
        color="#9ca3af",
        linewidth=1,
    )
    ax.scatter(
        true,
        predicted,
        s=10,
        alpha=0.5 if len(true) > 200 else 0.8,
        color=_COLORS["train"],
        linewidths=0,
    )
    ax.set_xlim(low - pad, high + pad)
    ax.set_ylim(low - pad, high + pad)
    ax.set_aspect("equal")
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    ax.grid(alpha=0.3)
    return _encode(fig)


def _curve_names(history: list[dict[str, Any]]) -> list[str]:
    """Quantities with a train_/validation_ prefix, in first-seen order, "loss" first."""
    names: list[str] = []
    for row in history:
        for key in row:
            if key in _NOT_CURVES or key.startswith("lr_"):  # lr_<group>: in the lr panel
                continue
            name = next((key[len(p) :] for p in _SPLIT_PREFIXES if key.startswith(p)), key)
            if name not in names:
                names.append(name)
    return sorted(names, key=lambda name: name != "loss")


def _plot_curve(ax: Any, history: list[dict[str, Any]], name: str) -> None:
    """Plot every series of `name` (train_NAME, validation_NAME or a bare NAME) against epoch."""
    keys = _lr_keys(history) if name == "lr" else [f"{split}_{name}" for split in _COLORS] + [name]
    for key in keys:
        points = [
            (row.get("epoch", i + 1), row[key])
            for i, row in enumerate(history)
            if row.get(key) is not None
        ]
        if points:
            epochs, values = zip(*points, strict=True)
            split = next((split for split in _COLORS if key.startswith(f"{split}_")), key)
            split = split.removeprefix("lr_")
            ax.plot(
                epochs,
                values,
                marker="o",
                markersize=3,
                color=_COLORS.get(split, "#059669" if len(keys) == 1 else None),
                label=split,
            )
    ax.set_title("learning rate" if name == "lr" else name, fontsize=10)
    ax.set_xlabel("epoch", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)
    ax.xaxis.get_major_locator().set_params(integer=True)
    if name == "lr":
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    if name != "lr" or len(keys) > 1:
        ax.legend(fontsize=8)


def _lr_keys(history: list[dict[str, Any]]) -> list[str]:
    """The per-group rates (lr_head, lr_backbone) when there are several, else ["lr"]."""
    groups = [k for k in dict.fromkeys(k for row in history for k in row) if k.startswith("lr_")]
    return groups or ["lr"]


def _shorten(text: str, limit: int = 18) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _encode(fig: Any) -> str:
    """PNG bytes of `fig` as base64 text; closes the figure."""
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", pad_inches=0.12)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def group_bars(groups: dict[str, dict[str, float]], after: dict[str, dict[str, float]] | None):
    """Per-group bars of a fairness block ({group: {metric: value}}, modelyard.fairness): one
    cluster per metric (rates in [0, 1]), a bar per group; with `after` (the mitigated
    decisions) a second panel beside it on the same scale."""
    plt = _pyplot()
    names = [m for m in next(iter(groups.values())) if m != "rows"]
    panels = [("model", groups)] + ([("mitigated", after)] if after else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.8), squeeze=False)
    width = 0.8 / max(len(groups), 1)
    for ax, (title, table) in zip(axes[0], panels, strict=True):
        for i, (group, values) in enumerate(table.items()):
            offsets = [k + (i - (len(table) - 1) / 2) * width for k in range(len(names))]
            label = f"{_shorten(str(group))} ({values.get('rows', 0):,})"
            ax.bar(offsets, [values[m] for m in names], width, label=label)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([n.replace("_", "\n") for n in names], fontsize=7)
        ax.set_ylim(0, 1.05)
        ax.set_title(title, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="upper right")
    return _encode(fig)
