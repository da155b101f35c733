"""What a finished study leaves in DIR: trials.csv, best.yaml and report.html."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

from modelyard.config.load import with_values
from modelyard.tune.space import Study

DATA_PATHS = ("train", "validation", "test")


def trial_rows(study: Any, metric: str) -> list[dict[str, Any]]:
    """One row per trial: number, state, the metric (the last reported one for a pruned
    trial), epochs reported, wall seconds, each searched key's value, and why it failed."""
    trials = study.get_trials(deepcopy=False)
    retries = {t.user_attrs["retry_of"]: t.number for t in trials if "retry_of" in t.user_attrs}
    rows = []
    for t in trials:
        values = t.user_attrs.get("values", {})
        error = t.user_attrs.get("error")
        if t.number in retries:
            error = f"interrupted; run again as trial {retries[t.number]}"
        rows.append(
            {
                "number": t.number,
                "state": t.state.name.lower(),
                metric: t.value,
                "epochs": len(t.intermediate_values),
                "seconds": t.user_attrs.get("seconds"),
                **{k: _cell(v) for k, v in values.items()},
                "retry_of": t.user_attrs.get("retry_of"),
                "error": error,
            }
        )
    return rows


def write_trials(rows: list[dict[str, Any]], path: Path) -> None:
    import pandas as pd

    table = pd.DataFrame(rows)
    table["retry_of"] = table["retry_of"].astype("Int64")  # a number, or empty
    table.to_csv(path, index=False)


def best_trial(study: Any) -> Any:
    """The best complete trial, or None when no trial completed."""
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    return study.best_trial


def write_best(definition: Study, trial: Any, output: Path, path: Path) -> None:
    """best.yaml: the config with the best trial's values, its data paths relative to its new
    folder, without the tune section: `modelyard train best.yaml` trains it."""
    import yaml

    raw = with_values(definition.raw, trial.user_attrs["values"])
    data = raw.get("data")
    if isinstance(data, dict):
        raw["data"] = {
            k: _moved(v, definition.base, output) if k in DATA_PATHS else v for k, v in data.items()
        }
    header = (
        f"# The best of the trials of {definition.source} (trial {trial.number}, "
        f"validation {definition.tune.metric} {trial.value:.6g}), written by modelyard tune.\n"
        f"# Train it: modelyard train {path}\n"
    )
    path.write_text(
        header + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )


def write_report(study: Any, definition: Study, rows: list[dict[str, Any]], path: Path) -> None:
    """report.html: the best trial, the optimisation history, the keys' importances and the
    trials' table."""
    from modelyard.report.plots import _encode

    metric = definition.tune.metric
    best = best_trial(study)
    parts = [
        f"<h1>Tuning {html.escape(definition.source)}</h1>",
        f"<p>{len(rows)} trials; validation {html.escape(metric)}, {definition.direction}d "
        f"({definition.tune.sampler} sampler, {definition.tune.pruner} pruner).</p>",
    ]
    if best is not None:
        parts.append(
            f"<h2>Best: trial {best.number}, {html.escape(metric)} {best.value:.6g}</h2>"
            + _table([{"key": k, "value": _cell(v)} for k, v in best.user_attrs["values"].items()])
        )
    parts.append("<h2>Optimisation history</h2>")
    parts.append(_image(_encode(_history_figure(rows, metric, definition.direction))))
    importances, why = _importances(study)
    parts.append("<h2>Importance of each key (fANOVA)</h2>")
    parts.append(
        _image(_encode(_importance_figure(importances)))
        if importances
        else f"<p>{html.escape(why)}</p>"
    )
    parts.append("<h2>Trials</h2>" + _table(rows))
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>modelyard tune</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>\n"
    )
    path.write_text(page, encoding="utf-8")


def _importances(study: Any) -> tuple[dict[str, float], str]:
    """Each searched key's share of the metric's variance over the complete trials."""
    import optuna
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        return {}, "Needs at least two complete trials."
    try:
        return optuna.importance.get_param_importances(study), ""
    except (ValueError, RuntimeError) as e:  # e.g. every trial drew the same values
        return {}, f"Not computed: {e}"


def _history_figure(rows: list[dict[str, Any]], metric: str, direction: str) -> Any:
    from modelyard.report.plots import _pyplot

    fig, ax = _pyplot().subplots(figsize=(7, 4))
    for state, style in (("complete", "o"), ("pruned", "x")):
        points = [
            (r["number"], r[metric]) for r in rows if r["state"] == state and r[metric] is not None
        ]
        if points:
            ax.plot(*zip(*points, strict=True), style, label=state, alpha=0.7)
    done = sorted((r["number"], r[metric]) for r in rows if r["state"] == "complete")
    if done:
        pick = min if direction == "minimize" else max
        best = [pick(v for _, v in done[: i + 1]) for i in range(len(done))]
        ax.step([n for n, _ in done], best, where="post", label="best so far")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(f"validation {metric}")
    ax.legend()
    return fig


def _importance_figure(importances: dict[str, float]) -> Any:
    from modelyard.report.plots import _pyplot

    names = list(importances)[::-1]
    fig, ax = _pyplot().subplots(figsize=(7, 0.5 + 0.4 * len(names)))
    ax.barh(names, [importances[n] for n in names])
    ax.set_xlabel("importance (share of variance)")
    return fig


def _moved(value: Any, base: Path, output: Path) -> Any:
    """A data path relative to `base`, made relative to `output` (absolute ones stay)."""
    if not isinstance(value, str) or Path(value).is_absolute():
        return value
    return os.path.relpath(base / value, output.resolve())


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, list | dict) else value


def _image(encoded: str) -> str:
    return f"<img src='data:image/png;base64,{encoded}'>"


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>none</p>"
    keys = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in keys)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_shown(r.get(k)))}</td>" for k in keys) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _shown(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)
