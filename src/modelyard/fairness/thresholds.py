"""Post-processing mitigation: fairlearn's `ThresholdOptimizer` fitted on a binary output's
probabilities, kept as a JSON table of its per-group thresholds (nothing pickled), and its
prediction rule reproduced on that table.

The table fairlearn fits (`interpolated_thresholder_.interpolation_dict`) gives each group
two threshold operations on the score, `p0 * [score op0 t0] + p1 * [score op1 t1]`, and
optionally a constant it falls back to with probability `p_ignore`: that is the probability
of deciding positive. fairlearn's `predict(random_state=seed)` then decides positive where it
is >= `RandomState(seed).rand(N)`, a draw per row in the order of the rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelyard.errors import UserError


def fit_thresholds(
    probability: np.ndarray,
    truth: np.ndarray,
    groups: np.ndarray,
    constraint: str,
    objective: str = "accuracy_score",
    grid_size: int = 1000,
) -> dict[str, dict[str, Any]]:
    """{group: interpolation} of a ThresholdOptimizer fitted on (N,) probabilities of the
    positive class, (N,) 0/1 labels and (N,) group keys; JSON-safe (infinite thresholds as
    the strings "inf" / "-inf")."""
    optimizer = fitted_optimizer(probability, truth, groups, constraint, objective, grid_size)
    return {
        str(group): _interpolation_json(bunch)
        for group, bunch in optimizer.interpolated_thresholder_.interpolation_dict.items()
    }


def fitted_optimizer(probability, truth, groups, constraint, objective, grid_size):
    """fairlearn's own fitted ThresholdOptimizer on the scores (a prefit scorer of X = (N, 1)
    probabilities): what `fit_thresholds` reads, and what tests compare against."""
    import warnings

    from fairlearn.postprocessing import ThresholdOptimizer

    optimizer = ThresholdOptimizer(
        estimator=_scores(),
        constraints=constraint,
        objective=objective,
        grid_size=grid_size,
        prefit=True,
        predict_method="predict_proba",
    )
    with warnings.catch_warnings():  # fairlearn warns that a prefit estimator is not cloned
        warnings.simplefilter("ignore")
        optimizer.fit(_as_x(probability), truth, sensitive_features=groups)
    return optimizer


def positive_probability(
    table: dict[str, dict[str, Any]], probability: np.ndarray, groups: np.ndarray
) -> np.ndarray:
    """(N,) probability of deciding positive for (N,) scores and (N,) group keys; a group the
    table does not know is a UserError naming it."""
    result = np.zeros(len(probability), dtype=np.float64)
    for group in np.unique(groups.astype(str)):
        if group not in table:
            known = ", ".join(f"'{g}'" for g in table)
            raise UserError(
                f"group '{group}' was not among the validation rows the mitigation was fitted "
                f"on (known groups: {known}); predict rows of known groups, or retrain"
            )
    for group, rule in table.items():
        rows = groups.astype(str) == group
        result[rows] = _rule(rule, probability[rows])
    return result


def decide(
    table: dict[str, dict[str, Any]], probability: np.ndarray, groups: np.ndarray, seed: int
) -> np.ndarray:
    """(N,) 0/1 decisions, as fairlearn's ThresholdOptimizer.predict(random_state=seed) makes
    them: positive where the probability of deciding positive >= a uniform draw per row."""
    chance = positive_probability(table, probability, groups)
    draws = np.random.RandomState(seed).rand(len(chance))
    return (chance >= draws).astype(np.int64)


def _rule(rule: dict[str, Any], scores: np.ndarray) -> np.ndarray:
    chance = rule["p0"] * _apply(rule["operation0"], scores) + rule["p1"] * _apply(
        rule["operation1"], scores
    )
    if "p_ignore" in rule:
        chance = rule["p_ignore"] * rule["prediction_constant"] + (1 - rule["p_ignore"]) * chance
    return chance


def _apply(operation: dict[str, Any], scores: np.ndarray) -> np.ndarray:
    threshold = float(operation["threshold"])  # "inf" / "-inf" too
    return scores > threshold if operation["operator"] == ">" else scores < threshold


def _interpolation_json(bunch) -> dict[str, Any]:
    found = {
        "p0": float(bunch.p0),
        "operation0": _operation_json(bunch.operation0),
        "p1": float(bunch.p1),
        "operation1": _operation_json(bunch.operation1),
    }
    if "p_ignore" in bunch:
        found["p_ignore"] = float(bunch.p_ignore)
        found["prediction_constant"] = float(bunch.prediction_constant)
    return found


def _operation_json(operation) -> dict[str, Any]:
    threshold = float(operation.threshold)
    return {
        "operator": operation.operator,
        "threshold": threshold if np.isfinite(threshold) else ("inf" if threshold > 0 else "-inf"),
    }


def _as_x(probability: np.ndarray) -> np.ndarray:
    return np.asarray(probability, dtype=np.float64).reshape(-1, 1)


def _scores():
    """A fitted scikit-learn 'classifier' whose probability of the positive class is the one
    column of its X (built here: scikit-learn is imported only when mitigation runs)."""
    from sklearn.base import BaseEstimator, ClassifierMixin

    class Scores(ClassifierMixin, BaseEstimator):
        def fit(self, x, y):
            return self

        def predict_proba(self, x) -> np.ndarray:
            p = np.asarray(x, dtype=np.float64)[:, 0]
            return np.stack([1 - p, p], axis=1)

        def __sklearn_is_fitted__(self) -> bool:
            return True

    scores = Scores()
    scores.classes_ = np.array([0, 1])
    return scores
