"""Figures of several runs at once (base64 PNG text, as report/plots.py's): each fold's
score for `modelyard cv`, learning curves overlaid for `modelyard compare`."""

from __future__ import annotations

import math
from typing import Any

from modelyard.report.plots import _encode, _pyplot

_NOT_CURVES = frozenset({"epoch", "seconds", "lr"})
_MOST_PANELS = 12


def fold_scores(scores: dict[str, list[float]]) -> str | None:
    """One small panel per metric: each fold's value as a dot, the mean as a line and the
    mean ± one standard deviation as a band. None without metrics."""
    import numpy as np

    names = [n for n, values in scores.items() if values][:_MOST_PANELS]
    if not names:
        return None
    plt = _pyplot()
    fig, axes = _panels(plt, len(names), width=3.0, height=2.6)
    for ax, name in zip(axes, names, strict=False):
        values = np.asarray(scores[name], dtype=float)
        mean, std = float(np.mean(values)), float(np.std(values))
        ax.axhspan(mean - std, mean + std, color="#bfdbfe", alpha=0.6)
        ax.axhline(mean, color="#2563eb", linewidth=1.5)
        ax.plot(np.arange(1, len(values) + 1), values, "o", color="#ea580c", markersize=5)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("fold", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
    return _encode(fig)


def overlaid_curves(histories: dict[str, list[dict[str, Any]]]) -> str | None:
    """One panel per history column (train_loss, validation_loss, validation metrics ...),
    one line per run, against epoch. None when no run has a history."""
    names = list(
        dict.fromkeys(
            key
            for history in histories.values()
            for row in history
            for key in row
            if key not in _NOT_CURVES and not key.startswith("lr_")
        )
    )
    names = sorted(names, key=lambda n: not n.endswith("loss"))[:_MOST_PANELS]
    if not names:
        return None
    plt = _pyplot()
    fig, axes = _panels(plt, len(names), width=4.2, height=3.1)
    for ax, name in zip(axes, names, strict=False):
        for label, history in histories.items():
            points = [(row.get("epoch", i + 1), row.get(name)) for i, row in enumerate(history)]
            points = [(e, v) for e, v in points if v is not None and math.isfinite(v)]
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", markersize=3, label=label)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _encode(fig)


def _panels(plt: Any, count: int, width: float, height: float):
    """A figure of `count` panels, at most 4 a row; returns (figure, the used axes)."""
    columns = min(4, count)
    rows = math.ceil(count / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False)
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:count])
