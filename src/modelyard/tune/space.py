"""A `tune:` section checked against its config, and the values each trial draws from it.

Every problem is found before the first trial trains: a key of the space that is not a key of
the config (with a suggestion), an impossible range, a value at the edge of a range that makes
the config invalid, a metric the config does not report.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelyard.config.load import _parts, read_yaml, split_tune, validate, with_values
from modelyard.config.schema.tune import KINDS, Param, Tune
from modelyard.errors import ConfigError

# Sections a trial may not change: every trial must be scored on the same validation rows.
FIXED = ("data", "task", "name")


@dataclass(frozen=True)
class Study:
    """What the tuner needs of a config file: the config without `tune:` (raw, as written),
    its folder (data paths are relative to it), the `tune:` section and the metric's
    direction (`maximize` / `minimize`)."""

    raw: dict[str, Any]
    base: Path
    tune: Tune
    direction: str
    source: str

    def trial_config(self, values: dict[str, Any]):
        """The validated config of a trial: the config with `values` (dotted key -> value)."""
        return validate(with_values(self.raw, values), self.source)


def load_study(path: str | Path) -> Study:
    """Read a config with a `tune:` section and check the section against it (ConfigError
    listing every problem)."""
    raw = read_yaml(path)
    raw.setdefault("name", Path(path).stem)
    raw, tune = split_tune(raw, str(path))
    if tune is None:
        raise ConfigError(
            ["tune: section missing; add one with a `space:` (see README, 'Tuning')"], str(path)
        )
    config = validate(raw, str(path))
    problems = _scope_problems(config)
    if not problems:
        resolved = config.model_dump(mode="json")
        problems = [
            p for key, param in tune.space.items() for p in _key_problems(key, param, resolved)
        ]
        problems += _metric_problems(tune.metric, config)
    if not problems:  # the edges of every range, one key at a time
        problems = [p for k, param in tune.space.items() for p in _edge_problems(raw, k, param)]
    if problems:
        raise ConfigError(problems, str(path))
    from modelyard.metrics import metric_mode

    direction = tune.direction or {"max": "maximize", "min": "minimize"}[metric_mode(tune.metric)]
    return Study(raw, Path(path).resolve().parent, tune, direction, str(path))


def suggest(trial: Any, key: str, param: Param) -> Any:
    """The value an Optuna `trial` draws for `key` (a choice of lists or mappings is drawn by
    its JSON text, then given back as written)."""
    kind = param.kind()
    if kind == "loguniform":
        return trial.suggest_float(key, *param.loguniform, log=True)
    if kind == "uniform":
        return trial.suggest_float(key, *param.uniform, step=param.step)
    if kind == "int":
        step = int(param.step or 1)
        return trial.suggest_int(key, *param.int, step=step, log=param.log)
    labels = [choice_label(v) for v in param.choice]
    return param.choice[labels.index(trial.suggest_categorical(key, labels))]


def choice_label(value: Any) -> Any:
    """A choice as Optuna stores it: a scalar as it is, a list or mapping as JSON text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value)


# ---------------------------------------------------------------- checks


def _scope_problems(config) -> list[str]:
    if config.task != "supervised":
        return [
            f"tune: tunes supervised configs (inputs -> outputs); this one's task is "
            f"'{config.task}'"
        ]
    split = config.data.split
    if config.data.validation is None and split.column is None and not split.validation:
        return [
            "tune: trials are compared on the validation split, and this config has none; "
            "set data.split.validation (e.g. 0.2) or data.validation"
        ]
    return []


def _key_problems(key: str, param: Param, resolved: dict[str, Any]) -> list[str]:
    where = f"tune.space.{key}"
    parts = _parts(key)
    if parts[0] in FIXED:
        return [
            f"{where}: '{parts[0]}' is the same in every trial (trials are compared on the "
            "same data); tune the model's and trainer's keys"
        ]
    missing = _unknown_part(parts, resolved)
    if missing is not None:
        return [f"{where}: unknown config key: {missing}"]
    return _range_problems(where, param)


def _unknown_part(parts: list[str], resolved: Any) -> str | None:
    """Why `parts` names no key of the resolved config (defaults included), or None."""
    node = resolved
    for i, part in enumerate(parts):
        at = ".".join(parts[:i]) or "the config"
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                return f"'{part}' is not an index of {at}, a list of {len(node)}"
            node = node[int(part)]
        elif isinstance(node, dict):
            if part not in node:
                close = difflib.get_close_matches(part, list(node), n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(node)}"
                return f"'{part}' is not a key of {at}; {hint}"
            node = node[part]
        else:
            return f"{at} is a value ({node!r}), not a section"
    return None


def _range_problems(where: str, param: Param) -> list[str]:
    kind = param.kind()
    if kind is None:
        return [
            f"{where}: write exactly one of {', '.join(KINDS)} (e.g. {{loguniform: [1e-4, 1e-1]}})"
        ]
    problems = []
    if param.step is not None and kind not in ("int", "uniform"):
        problems.append(f"{where}.step: applies to int and uniform ranges; remove it")
    if param.log and kind != "int":
        problems.append(f"{where}.log: applies to int ranges (use loguniform for floats)")
    if kind == "choice":
        return problems
    low, high = getattr(param, kind)
    if low >= high:
        problems.append(
            f"{where}.{kind}: low {low:g} is not below high {high:g}; write [low, high]"
        )
    if (kind == "loguniform" or param.log) and low <= 0:
        problems.append(f"{where}.{kind}: a log scale needs low > 0, got {low:g}")
    if kind == "int" and param.step is not None and param.step != int(param.step):
        problems.append(f"{where}.step: an int range takes a whole step, got {param.step:g}")
    return problems


def _metric_problems(metric: str, config) -> list[str]:
    from modelyard.config.checks import metric_names

    known = ["loss", *metric_names(config)]
    if metric in known:
        return []
    close = difflib.get_close_matches(metric, known, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return [
        f"tune.metric: '{metric}' is not a validation metric of this config; {hint}"
        f"known: {', '.join(known)}"
    ]


def _edge_problems(raw: dict[str, Any], key: str, param: Param) -> list[str]:
    """The config with `key` at each end of its range (each choice) must be valid."""
    kind = param.kind()
    values = param.choice if kind == "choice" else list(getattr(param, kind))
    for value in values:
        try:
            validate(with_values(raw, {key: value}), "config")
        except ConfigError as e:
            return [f"tune.space.{key}: {value!r} makes the config invalid: {e.problems[0]}"]
    return []
