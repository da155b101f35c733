"""SQuAD exact match and F1 against the official evaluation script's logic (evaluate-v1.1.py,
as `evaluate`'s squad metric runs it), re-implemented here, on hand examples and random ones."""

from __future__ import annotations

import random
import re
import string
from collections import Counter

import pytest

from modelyard.qa.metrics import normalize_answer, squad_scores, token_f1


def _official_normalize(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def _official_f1(prediction, ground_truth):
    prediction_tokens = _official_normalize(prediction).split()
    ground_truth_tokens = _official_normalize(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def _official(predictions, references):
    em = f1 = 0.0
    for p, refs in zip(predictions, references, strict=True):
        em += max(float(_official_normalize(p) == _official_normalize(r)) for r in refs)
        f1 += max(_official_f1(p, r) for r in refs)
    return {"exact_match": 100 * em / len(predictions), "f1": 100 * f1 / len(predictions)}


HAND = [
    ("The Eiffel Tower!", ["Eiffel Tower"], 100.0, 100.0),
    ("an apple a day", ["apple day"], 100.0, 100.0),
    ("Denver Broncos", ["Broncos", "Denver Broncos"], 100.0, 100.0),
    ("in 1945", ["1945", "the year 1945"], 0.0, 100 * 2 * 0.5 * 1 / 1.5),
    ("red car", ["blue car"], 0.0, 50.0),
    ("Paris", ["London"], 0.0, 0.0),
]


@pytest.mark.parametrize(("prediction", "references", "em", "f1"), HAND)
def test_hand_examples_score_as_squad_does(prediction, references, em, f1):
    found = squad_scores([prediction], [references])
    assert found == pytest.approx({"exact_match": em, "f1": f1})
    assert found == pytest.approx(_official([prediction], [references]))


def test_random_answers_agree_with_the_official_logic():
    rng = random.Random(0)
    words = ["the", "a", "An", "cat", "cat,", "Dog", "dog.", "red", "(blue)", "1945", "é"]
    predictions, references = [], []
    for _ in range(300):
        predictions.append(" ".join(rng.choices(words, k=rng.randint(1, 5))))
        references.append(
            [" ".join(rng.choices(words, k=rng.randint(1, 5))) for _ in range(rng.randint(1, 3))]
        )
    # answers that normalise to nothing are where SQuAD 2.0's rule (used here) differs
    kept = [
        i
        for i in range(300)
        if normalize_answer(predictions[i]) and all(normalize_answer(r) for r in references[i])
    ]
    ours = squad_scores([predictions[i] for i in kept], [references[i] for i in kept])
    official = _official([predictions[i] for i in kept], [references[i] for i in kept])
    assert len(kept) > 200
    assert ours == pytest.approx(official)


def test_normalisation_drops_case_punctuation_articles_and_spaces():
    assert normalize_answer("  The  Quick, brown-fox AN a!") == "quick brownfox"


def test_a_question_without_answer_matches_only_the_empty_prediction():
    assert squad_scores(["", "something"], [[], []]) == {"exact_match": 50.0, "f1": 50.0}
    assert token_f1("", "") == 1.0
