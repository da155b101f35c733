"""SQuAD's exact match and F1, on its official answer normalisation (evaluate-v1.1.py /
evaluate-v2.0.py): lowercase, drop punctuation and the articles a/an/the, collapse whitespace.
A prediction scores the best over the question's reference answers; a question without an
answer (SQuAD 2.0) has the one reference "", which only the empty prediction matches.
Scores are percentages (0-100), as SQuAD reports them."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

_PUNCTUATION = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(reference))


def token_f1(prediction: str, reference: str) -> float:
    """F1 of the normalised tokens (bags of words); two empty answers score 1 (SQuAD 2.0)."""
    predicted, true = normalize_answer(prediction).split(), normalize_answer(reference).split()
    if not predicted or not true:
        return float(predicted == true)
    common = sum((Counter(predicted) & Counter(true)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(true)
    return 2 * precision * recall / (precision + recall)


def squad_scores(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict:
    """{"exact_match", "f1"} in percent over the questions: each prediction's best over its
    references (an empty list of references: the question has no answer)."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} questions")
    exact = f1 = 0.0
    for prediction, answers in zip(predictions, references, strict=True):
        answers = list(answers) or [""]
        exact += max(exact_match(prediction, a) for a in answers)
        f1 += max(token_f1(prediction, a) for a in answers)
    count = max(len(predictions), 1)
    return {"exact_match": 100 * exact / count, "f1": 100 * f1 / count}
