"""WER and CER: our metrics against a plain edit-distance reference written here."""

from __future__ import annotations

import numpy as np
import pytest

from modelyard.metrics.text import transcription_metrics


def edit_distance(a: list, b: list) -> int:
    """Levenshtein distance (substitutions, insertions, deletions all cost 1)."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def reference(references: list[str], hypotheses: list[str]) -> dict[str, float]:
    pairs = list(zip(references, hypotheses, strict=True))
    words = sum(edit_distance(r.split(), h.split()) for r, h in pairs)
    chars = sum(edit_distance(list(r), list(h)) for r, h in pairs)
    return {
        "wer": words / sum(len(r.split()) for r in references),
        "cer": chars / sum(len(r) for r in references),
    }


@pytest.mark.parametrize("seed", range(5))
def test_wer_and_cer_match_the_edit_distance_reference(seed):
    rng = np.random.default_rng(seed)
    words = ["one", "two", "three", "four", "on", "the", "light"]
    references = [" ".join(rng.choice(words, size=rng.integers(1, 6))) for _ in range(20)]
    hypotheses = [" ".join(rng.choice(words, size=rng.integers(0, 6))) for _ in range(20)]
    assert transcription_metrics(references, hypotheses) == pytest.approx(
        reference(references, hypotheses)
    )


def test_perfect_and_empty_hypotheses():
    assert transcription_metrics(["a b", "c"], ["a b", "c"]) == {"wer": 0.0, "cer": 0.0}
    assert transcription_metrics(["a b", "c"], ["", ""]) == {"wer": 1.0, "cer": 1.0}


def test_mismatched_lengths_are_a_bug():
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        transcription_metrics(["a", "b"], ["a"])
