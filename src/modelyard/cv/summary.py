"""A cross-validation's summary: mean and standard deviation per metric, cv.csv, cv.json,
report.html and the table printed on the terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from modelyard.cv import CrossValidation

_RECORD = ("repeat", "fold", "train_rows", "held_out_rows")
_MOST_FOLD_COLUMNS = 10  # the terminal table shows each fold up to this many


def metric_names(folds: list[dict[str, Any]]) -> list[str]:
    """The metrics of the folds' records, in first-seen order."""
    return list(dict.fromkeys(k for f in folds for k in f if k not in _RECORD))


def aggregate(folds: list[dict[str, Any]]) -> tuple[dict[str, float], dict[str, float]]:
    """(mean, std) per metric over the folds that have it; std as numpy's (ddof=0), which is
    what `cross_val_score(...).std()` gives."""
    mean, std = {}, {}
    for name in metric_names(folds):
        values = np.array([f[name] for f in folds if f.get(name) is not None], dtype=float)
        mean[name], std[name] = float(np.mean(values)), float(np.std(values))
    return mean, std


def write(result: CrossValidation) -> None:
    """cv.csv (a line per fold), cv.json (settings, folds, mean, std) and report.html."""
    import pandas as pd

    from modelyard import run

    directory = result.output_dir
    pd.DataFrame(result.folds).to_csv(directory / "cv.csv", index=False)
    record = {
        "settings": result.settings,
        "mean": result.mean,
        "std": result.std,
        "folds": result.folds,
    }
    run.write_json(directory / "cv.json", record)
    _write_report(result)


def _write_report(result: CrossValidation) -> None:
    from modelyard.report.multi_plots import fold_scores
    from modelyard.report.page import write_page

    names = metric_names(result.folds)
    labels = [_label(f, result.settings["repeats"]) for f in result.folds]
    per_fold = [[name, *(_number(f.get(name)) for f in result.folds)] for name in names]
    summary = [[name, _number(result.mean[name]), _number(result.std[name])] for name in names]
    scores = {name: [f[name] for f in result.folds if f.get(name) is not None] for name in names}
    settings = result.settings
    facts = [(k, str(v)) for k, v in settings.items() if v is not None]
    folder = {f"{label}": f"{label.replace(' / ', '/')}/report.html" for label in labels}
    sections = [
        {
            "title": "Held-out metrics",
            "note": "each fold's model scored on its held-out rows; std: numpy's (ddof=0)",
            "tables": [
                {"caption": "over the folds", "header": ["metric", "mean", "std"], "rows": summary},
                {"caption": "per fold", "header": ["metric", *labels], "rows": per_fold},
            ],
            "figures": [
                {
                    "caption": "each fold's value; line: mean, band: ± std",
                    "png": fold_scores(scores),
                }
            ],
        },
        {"title": "Fold runs", "links": list(folder.items())},
    ]
    write_page(result.output_dir / "report.html", "cross-validation", facts, sections)


def _label(fold: dict[str, Any], repeats: int) -> str:
    """fold_2, or repeat_1 / fold_2: the fold's run directory."""
    name = f"fold_{fold['fold']}"
    return f"repeat_{fold['repeat']} / {name}" if repeats > 1 else name


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def print_table(result: CrossValidation) -> None:
    """The summary on stdout (rich): metric, mean, std, and each fold's value (or min and max
    with more than 10 folds)."""
    import sys

    from rich.console import Console
    from rich.table import Table

    folds, repeats = result.folds, result.settings["repeats"]
    each = len(folds) <= _MOST_FOLD_COLUMNS
    title = f"{result.settings['folds']}-fold cross-validation" + (
        f", {repeats} repeats" if repeats > 1 else ""
    )
    table = Table(title=title + f" ({result.settings['rows']} rows)")
    table.add_column("metric")
    for name in ["mean", "std", *([_label(f, repeats) for f in folds] if each else ["min", "max"])]:
        table.add_column(name, justify="right")
    for name in metric_names(folds):
        values = [f.get(name) for f in folds]
        shown = (
            values
            if each
            else [min(v for v in values if v is not None), max(v for v in values if v is not None)]
        )
        table.add_row(
            name, _number(result.mean[name]), _number(result.std[name]), *map(_number, shown)
        )
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 200)
    console.print(table)
