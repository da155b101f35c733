"""Evaluation metrics: thin, tested wrappers over scikit-learn.

Importing this package is cheap: scikit-learn is imported inside the functions that use it.
"""

from modelyard.errors import UserError
from modelyard.metrics.classification import classification_details, classification_metrics
from modelyard.metrics.regression import regression_details, regression_metrics
from modelyard.tasks.base import HIGHER, LOWER

__all__ = [
    "CORE_DIRECTIONS",
    "ROW_COUNTS",
    "classification_details",
    "classification_metrics",
    "directions",
    "metric_mode",
    "regression_details",
    "regression_metrics",
]

# Metrics of every model, whatever its task: the training objective, and the language
# models' perplexity. Each task declares its own (`Task.metrics`).
CORE_DIRECTIONS: dict[str, str] = {
    "loss": LOWER,
    "perplexity": LOWER,
    "mrr": HIGHER,
    "coverage": HIGHER,
    "mean_rank": LOWER,  # link prediction
    "exact_match": HIGHER,  # question answering (and its "f1", a binary output's too)
    "map_50": HIGHER,  # object detection: mAP at IoU 0.5, and over IoU 0.5:0.95
    "map": HIGHER,
}
# Top-K metrics (recommendation; link prediction's hits), named `<metric>_at_<K>` for any K: `recall_at_10`.
# The sampled ones (evaluation.sampled) are `sampled_hr_at_10`, `sampled_ndcg_at_10`.
AT_K: dict[str, str] = {
    "recall": HIGHER,
    "ndcg": HIGHER,
    "hr": HIGHER,
    "sampled_hr": HIGHER,
    "sampled_ndcg": HIGHER,
    "hits": HIGHER,
}


def directions() -> dict[str, str]:
    """Every metric name the toolkit writes to metrics.json and history.csv, and which way is
    better ("max" or "min"). One source of truth: early stopping, `keep: best`, the plateau
    schedule and permutation importance read it; config checks refuse a metric not here."""
    from modelyard.tasks import registered

    found = dict(CORE_DIRECTIONS)
    for task in registered():
        found.update(task.metrics)
    return found


# Keys of a split in metrics.json that count rows rather than score them (no direction), and
# `positive_class`, the class a binary output's precision, recall and f1 are of; a
# recommendation split's `users` (evaluated), `protocol` and `sampled_protocol` (how ranking
# was measured); a link-prediction split's `queries` (two per triple) and `tie_rule` (how
# tied scores rank).
ROW_COUNTS = frozenset(
    {
        "rows",
        "rows_left_out",
        "rows_unseen_class",
        "positive_class",
        "users",
        "protocol",
        "sampled_protocol",
        "queries",
        "tie_rule",
    }
)


def metric_mode(name: str, key: str | None = None) -> str:
    """ "min" when lower is better (losses, errors), "max" when higher is (accuracy, r2, ...),
    as declared by `directions()`; an output prefix is ignored ("label.mse" -> "min").

    An unknown name is an error, never a guess: a `UserError` naming `key` when the name comes
    from the config (e.g. "trainer.early_stopping.metric"), else a `ValueError` (a bug: some
    code produces a metric nobody declared).
    """
    base, known = name.rsplit(".", 1)[-1], directions()
    if base in known:
        return known[base]
    if base.rpartition("_at_")[0] in AT_K and base.rpartition("_at_")[2].isdigit():
        return AT_K[base.rpartition("_at_")[0]]
    message = f"unknown metric '{name}'; known: {', '.join(sorted(known))}"
    if key is not None:
        raise UserError(f"{key}: {message}")
    raise ValueError(f"{message} (declare its direction in its task's `metrics`)")
