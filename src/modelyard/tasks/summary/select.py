"""Choosing sentences: the length budget, the two baselines every extractive summariser is
measured against (Lead-k and TextRank) and the greedy oracle that labels training sentences.

All work on one document at a time, given as its list of sentences; indices are returned in
document order, which is the order a summary shows them in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from modelyard.metrics.summarisation import Grams, tokens


@dataclass(frozen=True)
class Budget:
    """At most `sentences` sentences and `words` words (white-space separated); None: no limit."""

    sentences: int | None = 3
    words: int | None = None


def select(scores: np.ndarray, sentences: list[str], budget: Budget) -> list[int]:
    """The best-scoring sentences (scores (S,), higher is better) that fit the budget, in
    document order. A sentence longer than the words left is skipped for a shorter one; when
    none fits, the best one alone (`summary_text` cuts it to the budget)."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    chosen: list[int] = []
    words = 0
    for i in order[: len(sentences)]:
        if budget.sentences is not None and len(chosen) >= budget.sentences:
            break
        count = len(sentences[i].split())
        if budget.words is not None and words + count > budget.words:
            continue
        chosen.append(int(i))
        words += count
    return sorted(chosen) if chosen else [int(order[0])]


def summary_text(sentences: list[str], chosen: list[int], budget: Budget) -> str:
    """The chosen sentences joined by spaces, cut to `budget.words` words."""
    words = " ".join(sentences[i] for i in chosen).split()
    return " ".join(words[: budget.words] if budget.words is not None else words)


def lead(sentences: list[str], budget: Budget) -> list[int]:
    """Lead-k: the first sentences that fit the budget (k = budget.sentences)."""
    return select(-np.arange(len(sentences), dtype=np.float64), sentences, budget)


def textrank_scores(sentences: list[str], damping: float = 0.85) -> np.ndarray:
    """TextRank (Mihalcea and Tarau 2004): PageRank over the graph of sentences weighted by
    their word overlap |Si & Sj| / (log|Si| + log|Sj|) (rouge-score's stemmed tokens). (S,)."""
    words = [set(tokens(s)) for s in sentences]
    sizes = np.array([max(len(tokens(s)), 1) for s in sentences], dtype=np.float64)
    n = len(sentences)
    weights = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            denominator = np.log(sizes[i]) + np.log(sizes[j])
            if denominator > 0:
                weights[i, j] = weights[j, i] = len(words[i] & words[j]) / denominator
    return pagerank(weights, damping)


def pagerank(weights: np.ndarray, damping: float = 0.85, tol: float = 1e-6) -> np.ndarray:
    """PageRank of a weighted graph, (S, S) edge weights -> (S,) ranks summing to 1, by power
    iteration as networkx.pagerank does it (rows normalised; a node without edges spreads its
    rank evenly; stops when the L1 change is below S * tol, at most 100 iterations)."""
    n = len(weights)
    out = weights.sum(axis=1)
    dangling = out == 0
    transition = np.divide(
        weights, out[:, None], out=np.zeros_like(weights), where=~dangling[:, None]
    )
    rank = np.full(n, 1.0 / n)
    for _ in range(100):
        previous = rank
        rank = damping * (rank @ transition + rank[dangling].sum() / n) + (1 - damping) / n
        if np.abs(rank - previous).sum() < n * tol:
            break
    return rank


def oracle(sentences: list[str], reference: str, budget: Budget) -> list[int]:
    """Greedy oracle labels (Nallapati et al. 2017; Liu and Lapata 2019): add the sentence that
    raises the mean of ROUGE-1 and ROUGE-2 F against the reference most, while it rises and the
    budget allows. Returns the chosen indices in document order (maybe none)."""
    target = Grams(tokens(reference))
    grams = [Grams(tokens(s)) for s in sentences]
    chosen: list[int] = []
    current, best = Grams([]), 0.0
    while budget.sentences is None or len(chosen) < budget.sentences:
        gains = [
            ((current + g).f(target), i)
            for i, g in enumerate(grams)
            if i not in chosen and _fits(sentences, chosen + [i], budget)
        ]
        if not gains or max(gains)[0] <= best:
            break
        best, pick = max(gains, key=lambda gain: (gain[0], -gain[1]))
        chosen.append(pick)
        current = current + grams[pick]
    return sorted(chosen)


def soft_oracle(sentences: list[str], reference: str) -> np.ndarray:
    """(S,) soft labels: each sentence's own ROUGE against the reference (the mean of ROUGE-1
    and ROUGE-2 F, as `oracle` measures it), divided by the document's best (all 0 when no
    sentence shares a word with the reference)."""
    target = Grams(tokens(reference))
    scores = np.array([Grams(tokens(s)).f(target) for s in sentences], dtype=np.float64)
    best = scores.max(initial=0.0)
    return scores / best if best > 0 else scores


def _fits(sentences: list[str], chosen: list[int], budget: Budget) -> bool:
    return budget.words is None or sum(len(sentences[i].split()) for i in chosen) <= budget.words
