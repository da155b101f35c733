"""`modelyard tune`: search a config's keys with Optuna, trial by trial, each a normal run.

`tune(config, output)` runs the study described by the config's `tune:` section (continuing
one already in `output`) and writes trials.csv, best.yaml and report.html there; it returns a
summary. Optuna and torch are imported only when it runs.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

__all__ = ["tune"]


def tune(
    config: str | Path,
    output: str | Path | None = None,
    trials: int | None = None,
    workers: int = 1,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Tune `config` (a YAML file with a `tune:` section) into the folder `output` (default
    runs/<config name>-tune).

    `trials`: the study's total (default: tune.trials); a re-run continues up to it.
    `workers`: processes sharing the study, each with cores / workers torch threads.
    `timeout`: seconds after which no new trial starts (running ones finish)."""
    from modelyard.errors import UserError
    from modelyard.tune import study
    from modelyard.tune.space import load_study

    if workers < 1:
        raise UserError(f"--workers {workers}: use 1 or more")
    if trials is not None and trials < 1:
        raise UserError(f"--trials {trials}: use 1 or more")
    if timeout is not None and timeout <= 0:
        raise UserError(f"--timeout {timeout:g}: use a positive number of seconds")
    definition = load_study(config)
    output = Path(output) if output else Path("runs") / f"{definition.raw['name']}-tune"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    plan = study.Plan(
        config=str(config),
        output=output,
        trials=trials or definition.tune.trials,
        workers=workers,
        timeout=timeout,
        threads=max(1, (cores or 1) // workers) if workers > 1 else None,
    )
    try:
        found = study.run(plan)
    except BaseException:  # an error or Ctrl-C stopped it: what finished is still written
        _write_what_finished(definition, output)
        raise
    return _write(found, definition, output)


def _write_what_finished(definition: Any, output: Path) -> None:
    """trials.csv, best.yaml and report.html of a study that stopped on an error, from its
    journal; nothing when it never started (the error the user sees is the one that stopped
    it, not one from here)."""
    from modelyard.tune import study

    if not (output / study.JOURNAL).exists():
        return
    with contextlib.suppress(Exception):  # the original error matters more than this one
        _write(study.load(output), definition, output)


def _write(found: Any, definition: Any, output: Path) -> dict[str, Any]:
    from modelyard.tune import outputs

    metric = definition.tune.metric
    rows = outputs.trial_rows(found, metric)
    outputs.write_trials(rows, output / "trials.csv")
    best = outputs.best_trial(found)
    if best is not None:
        outputs.write_best(definition, best, output, output / "best.yaml")
    outputs.write_report(found, definition, rows, output / "report.html")
    states = [r["state"] for r in rows]
    return {
        "metric": metric,
        "direction": definition.direction,
        "best_trial": best.number if best is not None else None,
        "best_value": best.value if best is not None else None,
        "best_values": best.user_attrs["values"] if best is not None else None,
        "best_config": str(output / "best.yaml") if best is not None else None,
        "trials": {s: states.count(s) for s in sorted(set(states))},
        "report": str(output / "report.html"),
    }
