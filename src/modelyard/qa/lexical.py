"""The sliding-window lexical baseline of the SQuAD paper (Rajpurkar et al. 2016, after
Richardson et al. 2013's MCTest baseline), without a parser: the sentence of the context that
shares most unigrams and bigrams with the question is chosen; every span of 1..`max_words`
words of it that holds no question word and does not start or end with a stop word is a
candidate, scored by the question words around it, each counting 1 / its distance in words
(the sliding window's weighting: nearer is better); ties go to the shorter, then the earlier
span. No training; a floor that any learned model must clear."""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+(?:[-']\w+)*", re.UNICODE)
_SENTENCE = re.compile(r"[^.!?]+(?:[.!?]+|$)")
STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "by",
        "with",
        "from",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "did",
        "do",
        "does",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "as",
    ]
)


def _words(text: str, offset: int = 0) -> list[tuple[str, int, int]]:
    """(lowercased word, start, end) of each word of `text`, offsets shifted by `offset`."""
    return [(m.group().lower(), m.start() + offset, m.end() + offset) for m in _WORD.finditer(text)]


def _overlap(words: list[str], unigrams: set[str], bigrams: set[tuple[str, str]]) -> int:
    pairs = set(zip(words, words[1:], strict=False))
    return len(set(words) & unigrams) + len(pairs & bigrams)


def lexical_answer(question: str, context: str, max_words: int = 4) -> str:
    """The span of `context` chosen as the module says; "" for a context without words."""
    asked = [w for w, _, _ in _words(question)]
    unigrams = {w for w in asked if w not in STOP}
    bigrams = set(zip(asked, asked[1:], strict=False))
    sentences = [_words(m.group(), m.start()) for m in _SENTENCE.finditer(context)]
    sentences = [s for s in sentences if s]
    if not sentences:
        return ""
    words = max(sentences, key=lambda s: _overlap([w for w, _, _ in s], unigrams, bigrams))
    matched = [i for i, (w, _, _) in enumerate(words) if w in unigrams]
    best, chosen = -1.0, None
    for start in range(len(words)):
        for end in range(start, min(start + max_words, len(words))):
            if words[end][0] in unigrams:
                break
            if words[start][0] in STOP or words[end][0] in STOP:
                continue
            score = sum(1 / (start - i if i < start else i - end) for i in matched)
            if score > best + 1e-12:
                best, chosen = score, (start, end)
    if chosen is None:
        return ""
    return context[words[chosen[0]][1] : words[chosen[1]][2]]


def lexical_answers(questions: list[str], contexts: list[str]) -> list[str]:
    return [lexical_answer(q, c) for q, c in zip(questions, contexts, strict=True)]
