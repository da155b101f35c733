"""Per-group metrics of a classifier's decisions, computed by fairlearn's `MetricFrame`, and
the parity differences fairlearn defines; flat names for metrics.json."""

from __future__ import annotations

from typing import Any

import numpy as np

MISSING_GROUP = "(missing)"

# per-group metrics of a binary output's decisions, in the order reports show them
BINARY_GROUP_METRICS = (
    "accuracy",
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "mean_probability",
    "positive_rate",
    "rows",
)


def group_keys(frame, columns: list[str]) -> np.ndarray:
    """(N,) str: each row's group of `columns` of `frame` (a DataFrame); several columns join
    their values with "," (as fairlearn merges them); a missing value is "(missing)"."""
    parts = [
        frame[c].astype(object).where(frame[c].notna(), MISSING_GROUP).astype(str).to_numpy()
        for c in columns
    ]
    if len(parts) == 1:
        return parts[0].astype(object)
    return np.array([",".join(values) for values in zip(*parts, strict=True)], dtype=object)


def binary_fairness(
    truth: np.ndarray, decided: np.ndarray, probability: np.ndarray, groups: np.ndarray
) -> dict[str, Any]:
    """Per-group metrics and parity differences of binary decisions.

    truth, decided: (N,) 0/1 (1 = the positive class); probability: (N,) the model's
    probability of the positive class; groups: (N,) group keys. Returns {"groups": {group:
    {metric: value}}, "demographic_parity_difference", "equalized_odds_difference"}: accuracy,
    selection rate (share decided positive), true and false positive rates, calibration
    (`mean_probability` against the observed `positive_rate`) and `rows` per group."""
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        equalized_odds_difference,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score

    decisions = MetricFrame(
        metrics={
            "accuracy": accuracy_score,
            "selection_rate": selection_rate,
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
        },
        y_true=truth,
        y_pred=decided,
        sensitive_features=groups,
    )
    calibration = MetricFrame(
        metrics={"mean_probability": _mean_predicted, "positive_rate": _mean_true},
        y_true=truth,
        y_pred=probability,
        sensitive_features=groups,
    )
    per_group = _by_group(decisions, calibration, groups)
    return {
        "groups": per_group,
        "demographic_parity_difference": float(
            demographic_parity_difference(truth, decided, sensitive_features=groups)
        ),
        "equalized_odds_difference": float(
            equalized_odds_difference(truth, decided, sensitive_features=groups)
        ),
    }


def class_fairness(truth: np.ndarray, chosen: np.ndarray, groups: np.ndarray) -> dict[str, Any]:
    """Per-group accuracy and rows of a category output ((N,) class indices each), and the
    largest gap in accuracy between groups (`accuracy_difference`); parity of decisions is
    defined for binary outputs only."""
    from fairlearn.metrics import MetricFrame
    from sklearn.metrics import accuracy_score

    frame = MetricFrame(
        metrics={"accuracy": accuracy_score}, y_true=truth, y_pred=chosen, sensitive_features=groups
    )
    return {
        "groups": _by_group(frame, None, groups),
        "accuracy_difference": float(frame.difference()["accuracy"]),
    }


def flat(found: dict[str, Any], prefix: str) -> dict[str, float]:
    """metrics.json's flat names: `<prefix>.<difference>` and `<prefix>.<group>.<metric>`."""
    names = {f"{prefix}.{k}": v for k, v in found.items() if k != "groups"}
    for group, values in found["groups"].items():
        names.update({f"{prefix}.{group}.{k}": v for k, v in values.items()})
    return names


def _by_group(decisions, calibration, groups: np.ndarray) -> dict[str, dict[str, float]]:
    """{group: {metric: value}} of MetricFrames, with `rows` per group (an int)."""
    table = decisions.by_group.to_dict("index")
    if calibration is not None:
        for group, values in calibration.by_group.to_dict("index").items():
            table[group].update(values)
    names, counts = np.unique(groups.astype(str), return_counts=True)
    rows = dict(zip(names.tolist(), counts.tolist(), strict=True))
    return {
        str(g): {**{k: float(v) for k, v in values.items()}, "rows": rows[str(g)]}
        for g, values in table.items()
    }


def _mean_predicted(truth: np.ndarray, probability: np.ndarray) -> float:
    return float(np.mean(probability))


def _mean_true(truth: np.ndarray, probability: np.ndarray) -> float:
    return float(np.mean(truth))
