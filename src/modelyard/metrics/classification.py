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
    positive: int | None = None,
) -> dict[str, float]:
    """Accuracy, macro precision/recall/F1, log loss and (when defined) ROC AUC, in plain numpy
    (cheap enough for every epoch; equal to scikit-learn's, see tests/unit/metrics).

    y_true: (N,) int class indices; [0, C) are the training classes, C and above classes never
    seen in training (no prediction matches them: they count as errors in accuracy and in the
    macro averages, which run over the classes in y_true or in the predictions, as
    scikit-learn's do). probabilities: (N, C), rows sum to 1. `log_loss` and `roc_auc` need a
    probability for the true class, so they are computed over the rows of training classes
    only (`rows_unseen_class` in metrics.json says how many were not); `roc_auc` is left out
    when those rows hold a single class. `predicted`: the (N,) class indices actually
    predicted (e.g. a binary threshold); default argmax.

    `positive`: the index of a binary output's positive class; adds `precision`, `recall` and
    `f1` of that class (over all rows, each 0 where undefined: no row predicted or labelled
    positive) and `average_precision` (the area under its precision-recall curve, as
    scikit-learn's `average_precision_score`; over the seen rows, left out when none is
    positive).
    """
    y_true, probabilities = _check(y_true, probabilities, classes)
    predicted = probabilities.argmax(axis=1) if predicted is None else np.asarray(predicted)
    precision, recall, f1 = _macro_scores(y_true, predicted)
    result = {
        "accuracy": float(np.mean(y_true == predicted)),
        "precision_macro": precision,
        "recall_macro": recall,
        "f1_macro": f1,
    }
    if positive is not None:
        result.update(_positive_scores(y_true == positive, predicted == positive))
    seen = y_true < len(classes)
    if seen.any():
        y_seen, p_seen = y_true[seen], probabilities[seen]
        result["log_loss"] = _log_loss(y_seen, p_seen)
        aucs = _per_class_auc(y_seen, p_seen)
        if aucs:
            result["roc_auc"] = float(np.mean(list(aucs.values())))
        if positive is not None and (y_seen == positive).any():
            curve = precision_recall_curve(y_seen == positive, p_seen[:, positive])
            result["average_precision"] = _average_precision(*curve)
    return result


def _positive_scores(actual: np.ndarray, guessed: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of one class from (N,) bool labels and predictions; 0 where
    undefined (scikit-learn's zero_division=0): a model predicting no positives has precision
    0, not NaN."""
    hits = int(np.sum(actual & guessed))
    n_actual, n_guessed = int(actual.sum()), int(guessed.sum())
    return {
        "precision": hits / n_guessed if n_guessed else 0.0,
        "recall": hits / n_actual if n_actual else 0.0,
        "f1": 2 * hits / (n_actual + n_guessed) if hits else 0.0,
    }


def precision_recall_curve(
    positive: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(recall, precision), each (P,), at every distinct threshold from the highest score
    down, after a first point (0, 1): the step curve whose area (steps before each point) is
    the average precision. (N,) bool labels with at least one positive, (N,) scores. The
    points are scikit-learn's `precision_recall_curve`'s, in reverse (parity-tested)."""
    tps, fps = _threshold_counts(positive, scores)
    return np.r_[0.0, tps / tps[-1]], np.r_[1.0, tps / (tps + fps)]


def _average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """Sum over thresholds of the recall gained times the precision there."""
    return float(np.sum(np.diff(recall) * precision[1:]))


def _threshold_counts(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(true positives, false positives), each (T,) float64, when predicting positive from
    each distinct score down: one entry per distinct score, highest first."""
    order = np.argsort(-scores, kind="mergesort")
    scores, positive = scores[order], positive[order]
    ends = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]  # last row of each threshold
    tps = np.cumsum(positive)[ends].astype(np.float64)
    return tps, ends + 1 - tps


def _macro_scores(y_true: np.ndarray, predicted: np.ndarray) -> tuple[float, float, float]:
    """Macro precision, recall and F1 over the labels in y_true or predicted (each 0 where
    undefined: scikit-learn's zero_division=0). y_true, predicted: (N,) ints."""
    labels, codes = np.unique(np.concatenate([y_true, predicted]), return_inverse=True)
    true, chosen = codes[: len(y_true)], codes[len(y_true) :]
    hits = np.bincount(true[true == chosen], minlength=len(labels)).astype(np.float64)
    actual = np.bincount(true, minlength=len(labels))
    guessed = np.bincount(chosen, minlength=len(labels))
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(guessed > 0, hits / guessed, 0.0)
        recall = np.where(actual > 0, hits / actual, 0.0)
        f1 = np.where(hits > 0, 2 * hits / (actual + guessed), 0.0)
    return float(precision.mean()), float(recall.mean()), float(f1.mean())


def _log_loss(y_true: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean negative log probability of the true class; y_true (N,) in [0, C), probabilities
    (N, C) clipped as scikit-learn clips them."""
    eps = np.finfo(probabilities.dtype).eps
    chosen = np.clip(probabilities[np.arange(len(y_true)), y_true], eps, 1 - eps)
    return float(-np.log(chosen).mean())


def _binary_auc(positive: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC of (N,) bool labels and (N,) scores, as the Mann-Whitney U statistic with
    average ranks for ties (equal to the area under scikit-learn's ROC curve)."""
    order = np.argsort(scores, kind="mergesort")
    ordered = scores[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(scores)]
    average = (starts + ends + 1) / 2.0  # 1-based mean rank of each run of ties
    ranks = np.empty(len(scores))
    ranks[order] = np.repeat(average, ends - starts)
    n_pos = int(positive.sum())
    n_neg = len(scores) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def classification_details(
    y_true: np.ndarray,
    probabilities: np.ndarray,
    classes: list[str],
    predicted: np.ndarray | None = None,
    positive: int | None = None,
) -> dict:
    """Confusion matrix (rows = true, cols = predicted) and ROC curves, for the report.

    ROC curves: for two classes only the positive one (classes[1]); otherwise each class
    that has both positives and negatives in y_true. At most 200 points per curve.
    `positive` (a binary output's positive class index): also `pr`, its precision-recall
    curve {"class", "recall", "precision", "average_precision", "prevalence"} (the share of
    positive rows: a model guessing at random has that precision), when a row is positive.
    """
    y_true, probabilities = _check(y_true, probabilities, classes)
    predicted = probabilities.argmax(axis=1) if predicted is None else predicted
    seen = (y_true >= 0) & (y_true < len(classes))  # rows of unseen classes left out here
    k = len(classes)
    matrix = np.bincount(y_true[seen] * k + predicted[seen], minlength=k * k).reshape(k, k)
    y_true, probabilities = y_true[seen], probabilities[seen]
    roc = {}
    for index, auc in _per_class_auc(y_true, probabilities).items():
        fpr, tpr = roc_curve(y_true == index, probabilities[:, index])
        keep = _downsample_indices(len(fpr), _MAX_CURVE_POINTS)
        roc[classes[index]] = {"fpr": fpr[keep].tolist(), "tpr": tpr[keep].tolist(), "auc": auc}
    found = {"classes": list(classes), "confusion_matrix": matrix.tolist(), "roc": roc}
    if positive is not None and (y_true == positive).any():
        found["pr"] = _pr_details(y_true == positive, probabilities[:, positive])
        found["pr"]["class"] = classes[positive]
    return found


def _pr_details(positive: np.ndarray, scores: np.ndarray) -> dict:
    """The report's precision-recall curve (at most 200 points) of (N,) labels and scores."""
    recall, precision = precision_recall_curve(positive, scores)
    keep = _downsample_indices(len(recall), _MAX_CURVE_POINTS)
    return {
        "recall": recall[keep].tolist(),
        "precision": precision[keep].tolist(),
        "average_precision": _average_precision(recall, precision),
        "prevalence": float(positive.mean()),
    }


def roc_curve(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr), each (P,), from (0, 0) through every distinct threshold, highest first;
    points inside a straight segment are dropped, as scikit-learn's `roc_curve` does by default
    (parity-tested). Written here because importing scikit-learn for this alone cost about
    2.6 s of every classifier run's final metrics."""
    tps, fps = _threshold_counts(positive, scores)
    if len(tps) > 2:
        corner = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
        tps, fps = tps[corner], fps[corner]
    tps, fps = np.r_[0.0, tps], np.r_[0.0, fps]
    return fps / fps[-1], tps / tps[-1]


def _check(
    y_true: np.ndarray, probabilities: np.ndarray, classes: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Validate shapes; return int64 labels and float64 probabilities, clipped and renormalised.
    Labels from C on are classes unseen in training."""
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    probabilities = np.asarray(probabilities, dtype=np.float64)
    n_classes = len(classes)
    if probabilities.ndim != 2 or probabilities.shape != (len(y_true), n_classes):
        raise ValueError(
            f"probabilities must have shape (N, C) = ({len(y_true)}, {n_classes}), got {probabilities.shape}"
        )
    if len(y_true) == 0:
        raise ValueError("cannot compute metrics on zero examples")
    if y_true.min() < 0:
        raise ValueError(f"y_true must hold class indices >= 0, got {y_true.min()}")
    probabilities = np.clip(probabilities, _EPS, 1.0)
    return y_true, probabilities / probabilities.sum(axis=1, keepdims=True)


def _per_class_auc(y_true: np.ndarray, probabilities: np.ndarray) -> dict[int, float]:
    """Binary AUC per class index, for classes with both positives and negatives.

    Two classes: only the positive class (index 1), which is the usual binary AUC.
    y_true: (N,) in [0, C).
    """
    n_classes = probabilities.shape[1]
    candidates = [1] if n_classes == 2 else range(n_classes)
    present = set(np.unique(y_true).tolist())
    return {
        index: _binary_auc(y_true == index, probabilities[:, index])
        for index in candidates
        if index in present and len(present) > 1
    }


def _downsample_indices(length: int, limit: int) -> np.ndarray:
    """At most `limit` evenly spaced indices into range(length), keeping the first and last."""
    if length <= limit:
        return np.arange(length)
    return np.unique(np.linspace(0, length - 1, limit).round().astype(np.int64))
