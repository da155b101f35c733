"""Permutation importance: how much the output's metric drops when one input is shuffled.

Model-agnostic and global. sklearn's `permutation_importance` does the shuffling, repeats and
statistics; what it shuffles is a matrix of row indices, one column per input feature, so a
shuffled column means "this feature's values taken from other rows". The prepared tensors
are gathered by those indices: no input is read or preprocessed twice.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

REPEATS = 5


class _Network:
    """What sklearn calls the estimator (already trained); the scorer below does the work."""

    def fit(self, *_args) -> _Network:
        return self


def metric_for(model, feature) -> str:
    """The metric whose drop is measured, as the output's task names it: accuracy for
    classes, r2 for numbers (prefixed with
    the output name when the model has several outputs, as in metrics.json)."""
    from modelyard.tasks import task_of

    name = task_of(feature).importance_metric
    return f"{feature.name}.{name}" if len(model.preprocessing.outputs) > 1 else name


def permutation(model, feature, frame, rows: int | None, seed: int = 0) -> dict[str, Any]:
    """{metric, baseline_score, repeats, global: {feature: mean drop}, std: {feature: std}}."""
    from sklearn.inspection import permutation_importance

    from modelyard.evaluate import infer, score
    from modelyard.metrics import metric_mode
    from modelyard.models.build import build_losses

    table = model.preprocessing.prepare(frame if rows is None else frame.head(rows), "explain")
    model._log_notes()
    metric, losses = metric_for(model, feature), build_losses(model.config)
    sign = 1.0 if metric_mode(metric) == "max" else -1.0
    names = [f.name for f in model.preprocessing.inputs]
    batch = model.config.trainer.eval_batch_size

    def scorer(_estimator, indices: np.ndarray, _y) -> float:
        """indices: (N, F) row to take each feature from."""
        tensors = dict(table.tensors)
        for j, name in enumerate(names):
            tensors[name] = table.tensors[name][torch.from_numpy(indices[:, j])]
        outputs = infer(model.module, model.module.pack(tensors), torch.device("cpu"), False, batch)
        return sign * score(model.preprocessing, outputs, table, losses)[0][metric]

    rows_used = len(table)
    indices = np.repeat(np.arange(rows_used)[:, None], len(names), axis=1)
    found = permutation_importance(
        _Network(),
        indices,
        np.zeros(rows_used),
        scoring=scorer,
        n_repeats=REPEATS,
        random_state=seed,
        n_jobs=1,
    )
    return {
        "metric": metric,
        "baseline_score": sign * scorer(None, indices, None),
        "repeats": REPEATS,
        "rows_used": rows_used,
        "global": dict(zip(names, map(float, found.importances_mean), strict=True)),
        "std": dict(zip(names, map(float, found.importances_std), strict=True)),
    }
