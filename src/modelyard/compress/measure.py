"""The before/after table: parameters, weights file size, latency and the task metric."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch

BATCHES = (1, 32)
WARMUP = 3


def measure(model, frame: pd.DataFrame, weights: Path, repeats: int) -> dict[str, Any]:
    """Figures of an api.Model on labelled `frame`: parameter counts, weights file bytes, median
    forward latency (ms) at each of BATCHES rows, and every metric of `evaluate`."""
    from modelyard.compress.quantize import count_parameters, linear_weight_bytes
    from modelyard.evaluate import score
    from modelyard.models.build import build_losses

    table = model.preprocessing.prepare(frame, "compress")
    model._log_notes()
    inputs = model._inputs(table)
    metrics, details = score(
        model.preprocessing, model._infer(table), table, build_losses(model.config)
    )
    parameters, nonzero = count_parameters(model.module)
    return {
        "parameters": parameters,
        "nonzero_parameters": nonzero,
        "linear_weight_bytes": linear_weight_bytes(model.module),
        "weights_bytes": weights.stat().st_size,
        **{f"latency_ms_batch_{b}": latency_ms(model.module, inputs, b, repeats) for b in BATCHES},
        "metrics": metrics,
        "details": details,
    }


@torch.inference_mode()
def latency_ms(
    module: torch.nn.Module, inputs: dict[str, torch.Tensor], rows: int, repeats: int
) -> float:
    """Median wall time of one forward pass on `rows` rows (taken from `inputs`, cycled), in ms."""
    module.eval()
    available = len(next(iter(inputs.values())))
    index = torch.arange(rows) % available
    batch = {k: v[index] for k, v in inputs.items()}
    for _ in range(WARMUP):
        module(batch)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        module(batch)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main_metrics(metrics: dict[str, float]) -> list[str]:
    """The task metric of each output: accuracy for classifiers, rmse for numbers (else loss)."""
    chosen = [k for k in metrics if k.split(".")[-1] in ("accuracy", "rmse")]
    return chosen or ["loss"]


def table(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows {figure, before, after, ratio} for the figures a user compares."""
    keys = ["parameters", "nonzero_parameters", "linear_weight_bytes", "weights_bytes"] + [
        f"latency_ms_batch_{b}" for b in BATCHES
    ]
    rows = [_row(k, before[k], after[k]) for k in keys]
    rows += [
        _row(k, before["metrics"][k], after["metrics"].get(k, float("nan")))
        for k in main_metrics(before["metrics"])
    ]
    return rows


def _row(name: str, before: float, after: float) -> dict[str, Any]:
    return {
        "figure": name,
        "before": before,
        "after": after,
        "ratio": after / before if before else None,
    }


def markdown(rows: list[dict[str, Any]], title: str) -> str:
    """A Markdown table (also what the CLI prints)."""
    lines = [f"{title}", "", "| figure | before | after | after / before |", "|---|---:|---:|---:|"]
    for r in rows:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.3g}"
        lines.append(
            f"| {r['figure']} | {_number(r['before'])} | {_number(r['after'])} | {ratio} |"
        )
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
