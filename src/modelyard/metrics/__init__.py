"""Evaluation metrics: thin, tested wrappers over scikit-learn.

Importing this package is cheap: scikit-learn is imported inside the functions that use it.
"""

from modelyard.errors import UserError
from modelyard.metrics.classification import classification_details, classification_metrics
from modelyard.metrics.regression import regression_details, regression_metrics

__all__ = [
    "DIRECTIONS",
    "ROW_COUNTS",
    "classification_details",
    "classification_metrics",
    "metric_mode",
    "regression_details",
    "regression_metrics",
]

HIGHER, LOWER = "max", "min"

# Every metric name the toolkit writes to metrics.json and history.csv, and which way is
# better. One source of truth: early stopping, `keep: best`, the plateau schedule and
# permutation importance read it; config checks refuse an early-stopping metric not here.
DIRECTIONS: dict[str, str] = {
    "loss": LOWER,  # the training objective, on any task
    # classification (category, binary)
    "accuracy": HIGHER,
    "precision_macro": HIGHER,
    "recall_macro": HIGHER,
    "f1_macro": HIGHER,
    "roc_auc": HIGHER,
    "log_loss": LOWER,
    # regression (number)
    "mse": LOWER,
    "rmse": LOWER,
    "mae": LOWER,
    "r2": HIGHER,
    # tagging (tags; also "accuracy" over words)
    "f1_entity": HIGHER,
    "precision_entity": HIGHER,
    "recall_entity": HIGHER,
    # text outputs: transformer decoder, ctc decoder
    "bleu": HIGHER,
    "chrf": HIGHER,
    "wer": LOWER,
    "cer": LOWER,
    # language models
    "perplexity": LOWER,
}

# Keys of a split in metrics.json that count rows rather than score them (no direction).
ROW_COUNTS = frozenset({"rows", "rows_left_out", "rows_unseen_class"})


def metric_mode(name: str, key: str | None = None) -> str:
    """ "min" when lower is better (losses, errors), "max" when higher is (accuracy, r2, ...),
    as declared in `DIRECTIONS`; an output prefix is ignored ("label.mse" -> "min").

    An unknown name is an error, never a guess: a `UserError` naming `key` when the name comes
    from the config (e.g. "trainer.early_stopping.metric"), else a `ValueError` (a bug: some
    code produces a metric nobody declared).
    """
    base = name.rsplit(".", 1)[-1]
    if base in DIRECTIONS:
        return DIRECTIONS[base]
    message = f"unknown metric '{name}'; known: {', '.join(sorted(DIRECTIONS))}"
    if key is not None:
        raise UserError(f"{key}: {message}")
    raise ValueError(f"{message} (declare its direction in modelyard.metrics.DIRECTIONS)")
