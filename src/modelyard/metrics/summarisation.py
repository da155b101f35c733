"""Metrics of summaries: ROUGE-1, ROUGE-2 and ROUGE-L F-measure from Google's `rouge-score`
(the reference implementation of Lin 2004 used by most papers: its tokenizer, Porter
stemming), averaged over the documents, on a 0-100 scale like bleu and chrf.

`Grams` is a fast ROUGE-1/2 of the same tokens (rouge-score's tokenizer and stemmer, run once
per sentence), for the greedy oracle that labels sentences: scoring each candidate summary
with rouge-score itself would tokenise every sentence again at every step.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

ROUGE = ("rouge1", "rouge2", "rougeL")


@lru_cache(maxsize=1)
def _scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(list(ROUGE), use_stemmer=True)


def rouge(references: list[str], summaries: list[str]) -> dict[str, float]:
    """Mean F-measure (x100) of `rouge1`, `rouge2`, `rougeL`, one summary per reference."""
    if len(references) != len(summaries):
        raise ValueError(f"{len(references)} references but {len(summaries)} summaries")
    if not references:
        raise ValueError("cannot compute metrics on zero examples")
    totals = dict.fromkeys(ROUGE, 0.0)
    for reference, summary in zip(references, summaries, strict=True):
        scores = _scorer().score(reference, summary)
        for name in ROUGE:
            totals[name] += scores[name].fmeasure
    return {name: 100 * total / len(references) for name, total in totals.items()}


def tokens(text: str) -> list[str]:
    """rouge-score's tokens of `text`: lowercase alphanumeric words, Porter-stemmed."""
    return _scorer()._tokenizer.tokenize(text)


class Grams:
    """Unigram and bigram counts of a text's tokens; ROUGE-1/2 F of one against another."""

    def __init__(self, words: list[str]):
        self.words = words
        self.uni = Counter(words)
        self.bi = Counter(zip(words, words[1:], strict=False))

    def __add__(self, other: Grams) -> Grams:
        """The grams of two texts taken together (no bigram across the join, as rouge-score
        has none across sentences of a summary joined by a space: near enough for labels)."""
        joined = Grams([])
        joined.words = self.words + other.words
        joined.uni, joined.bi = self.uni + other.uni, self.bi + other.bi
        return joined

    def f(self, reference: Grams) -> float:
        """Mean of ROUGE-1 and ROUGE-2 F-measure against `reference` (0-1)."""
        return (_f(self.uni, reference.uni) + _f(self.bi, reference.bi)) / 2


def _f(candidate: Counter, reference: Counter) -> float:
    overlap = sum((candidate & reference).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(candidate.values()), overlap / sum(reference.values())
    return 2 * precision * recall / (precision + recall)
