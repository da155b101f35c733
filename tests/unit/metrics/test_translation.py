"""BLEU and chrF: the same numbers as sacrebleu itself."""

from __future__ import annotations

import numpy as np
import pytest
import sacrebleu

from modelyard.metrics import metric_mode
from modelyard.metrics.translation import translation_metrics

WORDS = ["el", "la", "perro", "gato", "come", "pan", "agua", "casa", "grande", "y", "de", "en"]


def test_parity_with_sacrebleu_on_random_sentences():
    rng = np.random.default_rng(0)
    refs = [" ".join(rng.choice(WORDS, size=rng.integers(3, 12))) for _ in range(40)]
    hyps = [" ".join(w for w in r.split() if rng.random() > 0.3) or "el" for r in refs]
    found = translation_metrics(refs, hyps)
    assert found["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert found["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)
    assert 0 < found["bleu"] < 100


def test_perfect_translations_score_100():
    refs = ["el perro come pan en la casa grande", "el gato bebe agua de la casa"]
    assert translation_metrics(refs, refs) == {
        "bleu": pytest.approx(100),
        "chrf": pytest.approx(100),
    }


def test_higher_is_better_for_early_stopping():
    assert metric_mode("bleu") == metric_mode("chrf") == "max"


def test_mismatched_lengths_are_an_error():
    with pytest.raises(ValueError, match="2 references but 1"):
        translation_metrics(["a", "b"], ["a"])
