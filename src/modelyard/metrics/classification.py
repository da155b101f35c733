"""Classification metrics from predicted class probabilities."""

from __future__ import annotations

import numpy as np

_MAX_CURVE_POINTS = 200
_EPS = 1e-15


def classification_metrics(
    y_true: np.ndarray,
    probabilities: np.ndarray,
    classes: list[str],
    predicted: np.ndarray | None = None,
) -> dict[str, float]:
    """Accuracy, macro precision/recall/F1, log loss and (when defined) ROC AUC.

    y_true: (N,) int class indices in [0, C); probabilities: (N, C), rows sum to 1.
    Macro averages run over the classes seen in y_true or in the predictions (sklearn's
    default); `roc_auc` is left out when y_true holds a single class. `predicted`: the (N,)
    class indices actually predicted (e.g. a binary threshold); default argmax.
    """
    from sklearn.metrics import accuracy_score, log_loss, precision_recall_fscore_support

    y_true, probabilities = _check(y_true, probabilities, classes)
    predicted = probabilities.argmax(axis=1) if predicted is None else predicted
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, predicted, average="macro", zero_division=0
    )
    result = {
        "accuracy": float(accuracy_score(y_true, predicted)),
        "precision_macro": float(precision),
        "recall_macro": float(recall),
        "f1_macro": float(f1),
        "log_loss": float(log_loss(y_true, probabilities, labels=list(range(len(classes))))),
    }
    aucs = _per_class_auc(y_true, probabilities)
    if aucs:
        result["roc_auc"] = float(np.mean(list(aucs.values())))
    return result


def classification_details(
    y_true: np.ndarray,
    probabilities: np.ndarray,
    classes: list[str],
    predicted: np.ndarray | None = None,
) -> dict:
    """Confusion matrix (rows = true, cols = predicted) and ROC curves, for the report.

    ROC curves: for two classes only the positive one (classes[1]); otherwise each class
    that has both positives and negatives in y_true. At most 200 points per curve.
    """
    from sklearn.metrics import confusion_matrix, roc_curve

    y_true, probabilities = _check(y_true, probabilities, classes)
    labels = list(range(len(classes)))
    predicted = probabilities.argmax(axis=1) if predicted is None else predicted
    matrix = confusion_matrix(y_true, predicted, labels=labels)
    roc = {}
    for index, auc in _per_class_auc(y_true, probabilities).items():
        fpr, tpr, _ = roc_curve(y_true == index, probabilities[:, index])
        keep = _downsample_indices(len(fpr), _MAX_CURVE_POINTS)
        roc[classes[index]] = {"fpr": fpr[keep].tolist(), "tpr": tpr[keep].tolist(), "auc": auc}
    return {"classes": list(classes), "confusion_matrix": matrix.tolist(), "roc": roc}


def _check(
    y_true: np.ndarray, probabilities: np.ndarray, classes: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Validate shapes; return int64 labels and float64 probabilities, clipped and renormalised."""
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    probabilities = np.asarray(probabilities, dtype=np.float64)
    n_classes = len(classes)
    if probabilities.ndim != 2 or probabilities.shape != (len(y_true), n_classes):
        raise ValueError(
            f"probabilities must have shape (N, C) = ({len(y_true)}, {n_classes}), got {probabilities.shape}"
        )
    if len(y_true) == 0:
        raise ValueError("cannot compute metrics on zero examples")
    if y_true.min() < 0 or y_true.max() >= n_classes:
        raise ValueError(
            f"y_true must hold class indices in [0, {n_classes}), got {y_true.min()}..{y_true.max()}"
        )
    probabilities = np.clip(probabilities, _EPS, 1.0)
    return y_true, probabilities / probabilities.sum(axis=1, keepdims=True)


def _per_class_auc(y_true: np.ndarray, probabilities: np.ndarray) -> dict[int, float]:
    """Binary AUC per class index, for classes with both positives and negatives.

    Two classes: only the positive class (index 1), which is the usual binary AUC.
    """
    from sklearn.metrics import roc_auc_score

    n_classes = probabilities.shape[1]
    candidates = [1] if n_classes == 2 else range(n_classes)
    present = set(np.unique(y_true).tolist())
    return {
        index: float(roc_auc_score(y_true == index, probabilities[:, index]))
        for index in candidates
        if index in present and len(present) > 1
    }


def _downsample_indices(length: int, limit: int) -> np.ndarray:
    """At most `limit` evenly spaced indices into range(length), keeping the first and last."""
    if length <= limit:
        return np.arange(length)
    return np.unique(np.linspace(0, length - 1, limit).round().astype(np.int64))
