"""Sentences -> entity mentions -> marked pairs -> relations -> canonical triples.

The two models are ordinary runs: an entity tagger (a `tags` output over one text input of
whitespace-separated tokens, BIO tags) and a relation classifier (a `category` output over
one text input holding the sentence with `[E1] .. [/E1]` around the first entity and
`[E2] .. [/E2]` around the second, as in Baldini Soares et al. 2019, with a `none` class).
Written by hand: no library joins a tagger and a pair classifier into triples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from modelyard.errors import UserError

TOKEN = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*|[^\w\s]|_")
ARTICLES = ("a ", "an ", "the ")
NO_RELATION = "none"

Span = tuple[int, int]  # [start, end) token positions


def tokenize(text: str) -> list[str]:
    """Words (with inner hyphens and apostrophes) and single punctuation marks."""
    return TOKEN.findall(text)


def marked(tokens: list[str], first: Span, second: Span) -> str:
    """The tokens with `[E1] .. [/E1]` around `first` and `[E2] .. [/E2]` around `second`."""
    out = []
    for i, token in enumerate(tokens):
        out += ["[E1]"] * (i == first[0]) + ["[E2]"] * (i == second[0])
        out.append(token)
        out += ["[/E1]"] * (i == first[1] - 1) + ["[/E2]"] * (i == second[1] - 1)
    return " ".join(out)


def spans(tags: list[str]) -> list[Span]:
    """The entity spans of BIO tags (an I- without its B- starts a span, as seqeval reads it)."""
    found, start = [], None
    for i, tag in enumerate([*tags, "O"]):
        inside = tag.startswith("I-") and start is not None
        if start is not None and not inside:
            found.append((start, i))
            start = None
        if tag.startswith("B-") or (tag.startswith("I-") and start is None):
            start = i
    return found


def canonical(name: str) -> str:
    """One name per entity: lowercase, single spaces, no leading article."""
    text = " ".join(name.lower().split())
    for article in ARTICLES:
        if text.startswith(article) and len(text) > len(article):
            return text[len(article) :]
    return text


@dataclass
class Models:
    """The two runs and the columns they read and write."""

    entities: Any  # api.Model with one text input and a tags output
    relations: Any  # api.Model with one text input and a category output
    entity_input: str
    entity_output: str
    relation_input: str
    relation_output: str


def models(entities, relations) -> Models:
    """Check the runs' shapes (a UserError saying which run is wrong and why)."""
    return Models(
        entities,
        relations,
        *_columns(entities, "tags", "--entities"),
        *_columns(relations, "category", "--relations"),
    )


def _columns(model, kind: str, flag: str) -> tuple[str, str]:
    config = model.config
    outputs = getattr(config, "outputs", [])
    inputs = getattr(config, "inputs", [])
    if len(outputs) != 1 or outputs[0].type != kind or len(inputs) != 1 or inputs[0].type != "text":
        raise UserError(
            f"{flag}: needs a run with one text input and one {kind} output; "
            f"this run's task is {getattr(config, 'task', 'supervised')} with outputs "
            f"{[o.type for o in outputs]}"
        )
    return inputs[0].name, outputs[0].name


def extract(models: Models, texts: pd.Series, threshold: float = 0.5) -> pd.DataFrame:
    """One row per (sentence, ordered entity pair) related with probability (1 - P(none)) at
    least `threshold`: sentence (the index label of `texts`), head, relation (the most
    probable other class), tail (canonical names), score."""
    tokens = [tokenize(str(text)) for text in texts]
    tagged = models.entities.predict(
        pd.DataFrame({models.entity_input: [" ".join(t) for t in tokens]}), ids=False
    )[f"{models.entity_output}_prediction"]
    pairs = []  # (sentence, head span text, tail span text, marked text)
    for label, words, tags in zip(texts.index, tokens, tagged, strict=True):
        found = spans(_tag_list(tags))
        for first in found:
            for second in found:
                if first != second:
                    pairs.append((label, words, first, second))
    if not pairs:
        return pd.DataFrame(columns=["sentence", "head", "relation", "tail", "score"])
    frame = pd.DataFrame({models.relation_input: [marked(w, a, b) for _, w, a, b in pairs]})
    relation, score = _relations(models.relations.predict(frame, ids=False), models)
    rows = pd.DataFrame(
        {
            "sentence": [p[0] for p in pairs],
            "head": [canonical(" ".join(w[a[0] : a[1]])) for _, w, a, _ in pairs],
            "relation": relation,
            "tail": [canonical(" ".join(w[b[0] : b[1]])) for _, w, _, b in pairs],
            "score": score,
        }
    )
    kept = (rows["score"] >= threshold) & (rows["head"] != rows["tail"])
    return rows[kept].reset_index(drop=True)


def _relations(scored: pd.DataFrame, models: Models):
    """(relation, score) per pair: the most probable class other than `none`, and the
    probability that the pair is related at all, 1 - P(none). `--threshold` on that score
    trades precision for recall."""
    prefix = f"{models.relation_output}_probability_"
    classes = [c.removeprefix(prefix) for c in scored.columns if c.startswith(prefix)]
    if NO_RELATION not in classes:
        raise UserError(
            f"--relations: its output '{models.relation_output}' has no '{NO_RELATION}' class "
            f"(classes: {', '.join(classes)}); train it with '{NO_RELATION}' rows for entity "
            "pairs that are not related"
        )
    related = [c for c in classes if c != NO_RELATION]
    probabilities = scored[[prefix + c for c in related]].to_numpy()
    relation = pd.Index(related)[probabilities.argmax(axis=1)].to_numpy()
    return relation, 1.0 - scored[prefix + NO_RELATION].to_numpy()


def _tag_list(tags: Any) -> list[str]:
    return list(tags) if isinstance(tags, list) else str(tags).split()


def triples(found: pd.DataFrame) -> pd.DataFrame:
    """The distinct triples of `extract`'s rows: head, relation, tail, score (the highest),
    sentences (how many stated it), best first."""
    grouped = found.groupby(["head", "relation", "tail"], sort=False)
    table = grouped.agg(score=("score", "max"), sentences=("sentence", "nunique")).reset_index()
    return table.sort_values(["score", "sentences"], ascending=False, ignore_index=True)
