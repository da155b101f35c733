"""Tagging metrics against seqeval and scikit-learn on random tag sequences."""

from __future__ import annotations

import numpy as np
import pytest

from modelyard.metrics.tagging import tagging_details, tagging_metrics

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def random_sequences(seed: int) -> tuple[list[list[str]], list[list[str]]]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 12, size=40)
    true = [list(rng.choice(TAGS, size=n, p=[0.6, 0.1, 0.1, 0.1, 0.1])) for n in lengths]
    predicted = [[t if rng.random() < 0.7 else str(rng.choice(TAGS)) for t in s] for s in true]
    return true, predicted


@pytest.mark.parametrize("seed", range(5))
def test_parity_with_seqeval_and_sklearn(seed):
    from seqeval.metrics import f1_score, precision_score, recall_score
    from sklearn.metrics import accuracy_score

    true, predicted = random_sequences(seed)
    found = tagging_metrics(true, predicted)
    assert found["f1_entity"] == pytest.approx(f1_score(true, predicted))
    assert found["precision_entity"] == pytest.approx(precision_score(true, predicted))
    assert found["recall_entity"] == pytest.approx(recall_score(true, predicted))
    flat = (sum(true, []), sum(predicted, []))
    assert found["accuracy"] == pytest.approx(accuracy_score(*flat))


def test_perfect_and_entity_free_predictions():
    true = [["B-PER", "I-PER", "O"], ["O", "B-LOC"]]
    assert tagging_metrics(true, true)["f1_entity"] == 1.0
    nothing = tagging_metrics(true, [["O"] * 3, ["O"] * 2])
    assert nothing["f1_entity"] == 0.0 and nothing["accuracy"] == pytest.approx(2 / 5)


def test_tags_that_are_not_bio_get_accuracy_only():
    assert tagging_metrics([["NN", "VB"]], [["NN", "NN"]], entities=False) == {"accuracy": 0.5}


def test_details_are_a_word_confusion_matrix():
    details = tagging_details([["O", "B-PER"]], [["O", "O"]], ["O", "B-PER"])
    assert details == {"classes": ["O", "B-PER"], "confusion_matrix": [[1, 0], [1, 0]]}


def test_mismatched_lengths_are_rejected():
    with pytest.raises(ValueError, match="same number"):
        tagging_metrics([["O", "O"]], [["O"]])


def test_entity_f1_is_maximised_by_early_stopping():
    from modelyard.metrics import metric_mode

    assert metric_mode("f1_entity") == "max" and metric_mode("ner.f1_entity") == "max"
