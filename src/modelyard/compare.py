"""`modelyard compare RUN RUN ...` / `compare_runs([...])`: runs side by side.

Reads what every run directory holds whatever its task (config.yaml, metrics.json,
history.csv): the metrics of each split (validation, test, and any other flat one), the
config keys whose values differ (dotted paths, `inputs[0].encoder.type`), and the learning
curves, overlaid. Printed as tables on the terminal; `--html FILE` adds a page with the
curves (PNG inline).
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelyard.errors import UserError

MISSING = "—"
_SPLITS_FIRST = ("validation", "test")
_WIDEST_VALUE = 40


@dataclass
class Comparison:
    """`metrics` {split: [(metric, [value or None per run])]}; `differences` [(dotted key,
    [value per run])]; `histories` {run label: history rows}."""

    labels: list[str]
    paths: list[Path]
    metrics: dict[str, list[tuple[str, list[float | None]]]]
    differences: list[tuple[str, list[Any]]]
    histories: dict[str, list[dict[str, float]]]


def compare_runs(runs: list[str | Path], html: str | Path | None = None) -> Comparison:
    """Read the run directories (two or more) and compare them; with `html`, write the page."""
    if len(runs) < 2:
        raise UserError(
            f"compare needs two or more run directories; {len(runs)} given "
            "(e.g. modelyard compare runs/a runs/b)"
        )
    paths = [Path(r) for r in runs]
    records = [_read_run(p) for p in paths]
    labels = _labels(paths)
    configs = [flatten(r["config"]) for r in records]
    found = Comparison(
        labels=labels,
        paths=paths,
        metrics=_metric_rows([r["metrics"] for r in records]),
        differences=[(k, [c.get(k, MISSING) for c in configs]) for k in differing_keys(configs)],
        histories=dict(zip(labels, (r["history"] for r in records), strict=True)),
    )
    if html is not None:
        write_html(found, Path(html))
    return found


def _read_run(path: Path) -> dict[str, Any]:
    """config.yaml, metrics.json and history.csv (empty if absent) of a run directory."""
    import yaml

    from modelyard import run

    if not path.is_dir():
        raise UserError(f"run directory '{path}' does not exist")
    for name in ("config.yaml", "metrics.json"):
        if not (path / name).is_file():
            hint = (
                " (a cross-validation directory: compare its fold_1, fold_2 ... runs)"
                if (path / "folds.csv").is_file()
                else ""
            )
            raise UserError(
                f"'{path}' is not a finished run directory: it has no {name}{hint}; "
                "compare takes the directories that train writes"
            )
    config = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8")) or {}
    history_file = path / run.HISTORY_FILE
    return {
        "config": config,
        "metrics": run.read_json(path / "metrics.json"),
        "history": read_history(history_file) if history_file.is_file() else [],
    }


def read_history(path: Path) -> list[dict[str, float]]:
    """history.csv's rows as numbers (empty cells left out)."""
    with path.open(newline="", encoding="utf-8") as f:
        return [
            {k: float(v) for k, v in row.items() if v not in ("", None)}
            for row in csv.DictReader(f)
        ]


def _labels(paths: list[Path]) -> list[str]:
    """Each run's name on the page: its path as given, or its folder name where those are
    unique."""
    names = [p.name or str(p) for p in paths]
    return names if len(set(names)) == len(names) else [str(p) for p in paths]


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{dotted key: leaf value}: mappings by `.key`, lists by `[i]`; an empty dict or list is
    a leaf."""
    if isinstance(value, dict) and value:
        found = {}
        for key, inner in value.items():
            found.update(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return found
    if isinstance(value, list) and value:
        found = {}
        for index, inner in enumerate(value):
            found.update(flatten(inner, f"{prefix}[{index}]"))
        return found
    return {prefix: value}


def differing_keys(configs: list[dict[str, Any]]) -> list[str]:
    """The dotted keys whose values are not the same in every config (flattened or not);
    a key absent from some differs."""
    flat = [flatten(c) for c in configs]  # an already flat one stays as it is
    keys = list(dict.fromkeys(k for c in flat for k in c))
    return [k for k in keys if any(c.get(k, MISSING) != flat[0].get(k, MISSING) for c in flat)]


def _metric_rows(metrics: list[dict[str, Any]]) -> dict[str, list[tuple[str, list]]]:
    """{split: [(metric, [value per run])]} for the splits that are flat maps of numbers."""
    splits = [s for s in _SPLITS_FIRST if any(s in m for m in metrics)]
    splits += [
        s
        for m in metrics
        for s, v in m.items()
        if s not in splits and s != "baselines" and isinstance(v, dict) and _numbers(v)
    ]
    rows = {}
    for split in dict.fromkeys(splits):
        parts = [m.get(split) or {} for m in metrics]
        names = dict.fromkeys(k for p in parts for k, v in p.items() if _number(v))
        rows[split] = [(name, [_value(p.get(name)) for p in parts]) for name in names]
    return rows


def _numbers(values: dict) -> bool:
    return any(_number(v) for v in values.values())


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _value(value: Any) -> float | None:
    if not _number(value) or not math.isfinite(value):
        return None
    return value if isinstance(value, int) else float(value)  # a count stays a count


def best(metric: str, values: list[float | None]) -> set[int]:
    """The indices of the best value by the metric's direction (all of them where several
    tie); none for counts (rows), metrics of unknown direction, fewer than two values, or
    values that are all the same."""
    from modelyard.metrics import metric_mode

    present = {i: v for i, v in enumerate(values) if v is not None}
    if metric.rpartition(".")[2].startswith("rows") or len(set(present.values())) < 2:
        return set()
    try:
        mode = metric_mode(metric)
    except ValueError:  # a metric no task declared a direction for: no winner shown
        return set()
    top = (max if mode == "max" else min)(present.values())
    return {i for i, v in present.items() if v == top}


def shown(value: Any) -> str:
    """A cell: a float in 4 decimals (an int as is), anything else as compact JSON."""
    if value is None:
        return MISSING
    if _number(value):
        return str(value) if isinstance(value, int) else f"{value:.4f}"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= _WIDEST_VALUE else text[: _WIDEST_VALUE - 1] + "…"


def write_html(found: Comparison, path: Path) -> Path:
    """The page: metrics per split (the best of each marked ★), config differences, overlaid learning curves, links to each run's report."""
    from modelyard.report.multi_plots import overlaid_curves
    from modelyard.report.page import write_page

    header = ["metric", *found.labels]
    tables = [
        {"caption": split, "header": header, "rows": _rows(rows)}
        for split, rows in found.metrics.items()
    ]
    differences = [[k, *(shown(v) for v in values)] for k, values in found.differences]
    links = [
        (label, os.path.relpath(p / "report.html", path.parent))
        for label, p in zip(found.labels, found.paths, strict=True)
        if (p / "report.html").is_file()
    ]
    sections = [
        {"title": "Metrics", "note": "★ best of the runs", "tables": tables},
        {
            "title": "Config differences",
            "note": "" if differences else "the configs are the same",
            "tables": [{"header": ["key", *found.labels], "rows": differences}]
            if differences
            else [],
        },
        {
            "title": "Learning curves",
            "note": "" if any(found.histories.values()) else "no run has a history.csv",
            "figures": [
                {"caption": "history.csv of each run", "png": overlaid_curves(found.histories)}
            ],
        },
        {"title": "Runs", "links": links},
    ]
    facts = [("runs", str(len(found.labels)))]
    return write_page(path, "comparison of runs", facts, sections)


def _rows(rows: list[tuple[str, list]]) -> list[list[str]]:
    """Table rows with the best value of each metric marked ★."""
    out = []
    for name, values in rows:
        winners = best(name, values)
        marked = [shown(v) + (" ★" if i in winners else "") for i, v in enumerate(values)]
        out.append([name, *marked])
    return out


def print_comparison(found: Comparison) -> None:
    """The metric tables and the config differences on stdout (rich); best values bold."""
    import sys

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 200)
    for split, rows in found.metrics.items():
        table = Table(title=f"{split} metrics")
        table.add_column("metric")
        for label in found.labels:
            table.add_column(escape(label), justify="right")
        for name, values in rows:
            cells = [escape(shown(v)) for v in values]
            for i in best(name, values):
                cells[i] = f"[bold]{cells[i]} *[/bold]"
            table.add_row(escape(name), *cells)
        console.print(table)
    if not found.differences:
        console.print("config: the same in every run")
        return
    table = Table(title="config differences")
    table.add_column("key")
    for label in found.labels:
        table.add_column(escape(label))
    for key, values in found.differences:
        table.add_row(escape(key), *(escape(shown(v)) for v in values))
    console.print(table)
