"""Fairness of a supervised model's classification outputs (config `evaluation:`): per-group
metrics over the sensitive columns, and the post-processing mitigation fitted on the
validation rows, saved as `model/fairness.json` and applied by `predict` and `serve`.

metrics.json names (flat; `<output>.` before them when a run has several outputs):
`fairness.<column>.demographic_parity_difference`, `fairness.<column>.equalized_odds_difference`
and `fairness.<column>.<group>.<metric>` (binary outputs; category outputs: per-group
`accuracy`, `rows` and `accuracy_difference`); with a mitigation, the same names after
`mitigated.`, and `mitigated.accuracy` / `mitigated.selection_rate` over all rows.

Imported only where a config has an `evaluation` section: it imports fairlearn.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from modelyard.data.columns import column_hint
from modelyard.errors import UserError
from modelyard.fairness.metrics import binary_fairness, class_fairness, flat, group_keys
from modelyard.fairness.thresholds import decide, fit_thresholds

FILE = "fairness.json"  # in model/: the mitigation's thresholds


def require_columns(frame: pd.DataFrame, columns: list[str], where: str) -> None:
    """A UserError naming the data and the first of `columns` it lacks, with close names."""
    for column in columns:
        if column not in frame.columns:
            raise UserError(
                f"data '{where}' has no column '{column}' (evaluation.sensitive)"
                f"{column_hint(column, list(frame.columns))}"
            )


def check_groups(frame: pd.DataFrame, settings, where: str) -> None:
    """Before training: every group of the sensitive columns (together) has at least the
    mitigation's `min_group_rows` rows in the validation table `frame`."""
    require_columns(frame, settings.sensitive, where)
    least = settings.mitigation.min_group_rows
    groups, counts = np.unique(
        group_keys(frame, settings.sensitive).astype(str), return_counts=True
    )
    small = [f"'{g}' ({n})" for g, n in zip(groups, counts, strict=True) if n < least]
    if small:
        raise UserError(
            f"evaluation.mitigation: group {', '.join(small)} of {', '.join(settings.sensitive)} "
            f"has fewer than {least} rows in the validation data ({where}); its thresholds "
            "would be noise: use a larger data.split.validation, merge small groups in the "
            "data, or lower evaluation.mitigation.min_group_rows"
        )


def fit_mitigation(preprocessing, outputs, table, settings, where: str) -> dict[str, Any]:
    """fairness.json's record: the thresholds of every binary output, fitted on the
    validation rows (`table`, the model's `outputs` for them)."""
    rule = settings.mitigation
    fitted = {}
    for feature, probs, truth, rows in _classifiers(preprocessing, outputs, table):
        positive = _positive(feature)
        if positive is None:
            continue
        groups = _groups(table.frame[rows], settings.sensitive, where)
        _check_labels(truth == positive, groups, rule.constraint, where)
        fitted[feature.name] = fit_thresholds(
            probs[:, positive], truth == positive, groups, rule.constraint, rule.objective,
            rule.grid_size,
        )  # fmt: skip
    return {
        "sensitive": list(settings.sensitive),
        "constraint": rule.constraint,
        "objective": rule.objective,
        "seed": rule.seed,
        "outputs": fitted,
    }


def evaluate(
    preprocessing, outputs, table, settings, mitigation: dict | None, where: str
) -> tuple[dict[str, float], dict[str, Any]]:
    """(flat metrics, {output: report details}) of every classification output on `table`."""
    several = len(preprocessing.outputs) > 1
    found: dict[str, float] = {}
    details: dict[str, Any] = {}
    inputs = {f.column or f.name for f in preprocessing.config.inputs}
    for feature, probs, truth, rows in _classifiers(preprocessing, outputs, table):
        frame = table.frame[rows]
        chosen = _task(feature).predicted_classes(feature, probs)
        before = _per_column(feature, truth, chosen, probs, frame, settings, where)
        names = {k: v for c, r in before.items() for k, v in flat(r, f"fairness.{c}").items()}
        after = None
        thresholds = (mitigation or {}).get("outputs", {}).get(feature.name)
        if thresholds is not None:
            positive = _positive(feature)
            groups = _groups(frame, mitigation["sensitive"], where)
            decided = decide(thresholds, probs[:, positive], groups, mitigation["seed"])
            classes = np.where(decided == 1, positive, 1 - positive)
            after = _per_column(feature, truth, classes, probs, frame, settings, where)
            names.update(_mitigated(after, truth == positive, decided == 1))
        prefix = f"{feature.name}." if several else ""
        found.update({prefix + k: v for k, v in names.items()})
        details[feature.name] = {
            "columns": {c: {"input": c in inputs} for c in settings.sensitive},
            "before": before,
            "after": after,
            "constraint": mitigation["constraint"] if after is not None else None,
        }
    return found, details


def apply(preprocessing, outputs, frame: pd.DataFrame, mitigation: dict, predictions):
    """`predictions` (predict's DataFrame) with each mitigated output's `<output>_prediction`
    decided by its thresholds (`_probability`: of that class), the model's own decision kept
    as `<output>_prediction_unmitigated`. `frame`: the rows predicted, with the sensitive
    columns (a UserError names a missing one)."""
    groups = _groups(frame, mitigation["sensitive"], "the data to predict")
    result = predictions.copy()
    for feature in preprocessing.outputs:
        thresholds = mitigation["outputs"].get(feature.name)
        if thresholds is None:
            continue
        probs, positive = (
            _task(feature).probabilities(feature, outputs[feature.name]),
            _positive(feature),
        )
        decided = decide(thresholds, probs[:, positive], groups, mitigation["seed"])
        classes = np.where(decided == 1, positive, 1 - positive)
        name = f"{feature.name}_prediction"
        at = list(result.columns).index(name) + 1
        result.insert(at, f"{name}_unmitigated", result[name].to_numpy())
        result[name] = feature.labels(classes)
        result[f"{feature.name}_probability"] = probs[np.arange(len(classes)), classes]
    return result


def _classifiers(preprocessing, outputs, table):
    """(feature, (N', C) probabilities, (N',) class indices, (N,) bool rows) of each
    classification output over its labelled rows."""
    for feature in preprocessing.outputs:
        task = _task(feature)
        if task.classes(feature) is None:
            continue
        target = table.tensors[feature.name]
        rows = task.labelled(feature, target)
        rows = np.ones(len(target), dtype=bool) if rows is None else rows.numpy()
        if not rows.any():
            continue
        probs = task.probabilities(feature, outputs[feature.name][rows])
        yield feature, probs, target[rows].long().numpy(), rows


def _per_column(feature, truth, chosen, probs, frame, settings, where) -> dict[str, Any]:
    """{column: binary_fairness / class_fairness} of one output's decisions `chosen`."""
    positive = _positive(feature)
    found = {}
    for column in settings.sensitive:
        groups = _groups(frame, [column], where)
        if positive is None:
            found[column] = class_fairness(truth, chosen, groups)
        else:
            found[column] = binary_fairness(
                (truth == positive).astype(int),
                (chosen == positive).astype(int),
                probs[:, positive],
                groups,
            )
    return found


def _mitigated(after: dict[str, Any], truth: np.ndarray, decided: np.ndarray) -> dict[str, float]:
    names = {
        "mitigated.accuracy": float(np.mean(decided == truth)),
        "mitigated.selection_rate": float(np.mean(decided)),
    }
    for column, found in after.items():
        names.update(flat(found, f"mitigated.fairness.{column}"))
    return names


def _check_labels(truth: np.ndarray, groups: np.ndarray, constraint: str, where: str) -> None:
    """equalized_odds needs both labels in every group (its rates are per label)."""
    if constraint != "equalized_odds":
        return
    for group in np.unique(groups.astype(str)):
        labels = set(truth[groups.astype(str) == group].tolist())
        if len(labels) < 2:
            raise UserError(
                f"evaluation.mitigation: group '{group}' has only one label in the validation "
                f"data ({where}); equalized_odds needs both per group: use demographic_parity "
                "or more validation rows"
            )


def _groups(frame: pd.DataFrame, columns: list[str], where: str) -> np.ndarray:
    require_columns(frame, columns, where)
    return group_keys(frame, columns)


def _task(feature):
    from modelyard.tasks import task_of

    return task_of(feature)


def _positive(feature) -> int | None:
    """The positive class's index of a binary output (`Task.record`'s `positive_class`)."""
    positive = _task(feature).record(feature).get("positive_class")
    return None if positive is None else _task(feature).classes(feature).index(positive)
