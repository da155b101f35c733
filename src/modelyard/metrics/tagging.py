"""Sequence-tagging metrics: entity-level precision/recall/F1 (seqeval) and word accuracy."""

from __future__ import annotations

import numpy as np

Sequences = list[list[str]]


def tagging_metrics(
    true: Sequences, predicted: Sequences, entities: bool = True
) -> dict[str, float]:
    """`accuracy` over words; with `entities` (BIO tags), micro-averaged entity-level
    `precision_entity`, `recall_entity`, `f1_entity` as seqeval computes them (its default,
    conlleval-compatible mode: an entity counts when its span and type both match).

    true, predicted: one list of tags per sentence, of equal lengths.
    """
    from seqeval.metrics import accuracy_score, f1_score, precision_score, recall_score

    _check(true, predicted)
    result = {"accuracy": float(accuracy_score(true, predicted))}
    if entities:
        result["precision_entity"] = float(precision_score(true, predicted, zero_division=0))
        result["recall_entity"] = float(recall_score(true, predicted, zero_division=0))
        result["f1_entity"] = float(f1_score(true, predicted, zero_division=0))
    return result


def tagging_details(true: Sequences, predicted: Sequences, tags: list[str]) -> dict:
    """The word-level confusion matrix over `tags` (rows = true), for the report."""
    from sklearn.metrics import confusion_matrix

    _check(true, predicted)
    flat_true = [t for sentence in true for t in sentence]
    flat_predicted = [t for sentence in predicted for t in sentence]
    matrix = confusion_matrix(flat_true, flat_predicted, labels=tags)
    return {"classes": list(tags), "confusion_matrix": np.asarray(matrix).tolist()}


def _check(true: Sequences, predicted: Sequences) -> None:
    if len(true) != len(predicted) or any(
        len(t) != len(p) for t, p in zip(true, predicted, strict=False)
    ):
        raise ValueError("true and predicted tags must have the same number of sentences and words")
    if not any(true):
        raise ValueError("cannot compute metrics on zero words")
