"""Evaluation metrics: thin, tested wrappers over scikit-learn.

Importing this package is cheap: scikit-learn is imported inside the functions that use it.
"""

from modelyard.metrics.classification import classification_details, classification_metrics
from modelyard.metrics.regression import regression_details, regression_metrics

__all__ = [
    "classification_details",
    "classification_metrics",
    "metric_mode",
    "regression_details",
    "regression_metrics",
]

_LOWER_IS_BETTER = frozenset({"loss", "log_loss", "mse", "rmse", "mae", "perplexity", "wer", "cer"})


def metric_mode(name: str) -> str:
    """Return "min" for losses and errors, "max" for everything else (accuracy, r2, ...).

    An output prefix is ignored ("label.mse" -> "min"), and so is a split prefix on a
    loss ("validation_loss" -> "min").
    """
    base = name.rsplit(".", 1)[-1]
    if base in _LOWER_IS_BETTER or base.endswith("_loss"):
        return "min"
    return "max"
