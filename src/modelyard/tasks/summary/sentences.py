"""Documents as sentences: a deterministic rule-based splitter (no model, nothing downloaded),
and the sentence mode of a text input, which tokenises each document sentence by sentence.

The splitter: a document given as a list of strings (a JSON list, as in aclsum) is already
split; a string is cut at line breaks, then after `.`, `!` or `?` (and any closing quotes or
brackets) followed by white space and a capital letter, digit, quote or bracket, except after
common abbreviations (Mr., Dr., e.g., U.S.) and single initials (J. Smith). Blank pieces are
dropped. Like nltk's punkt without its learned abbreviation list: it splits "No. 5" wrongly
less often than it splits "Fig. 3" rightly, and never needs a download.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from modelyard.data.features.base import is_missing, row_label
from modelyard.errors import UserError

ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "fig",
        "figs",
        "eq",
        "eqs",
        "no",
        "nos",
        "vol",
        "al",
        "cf",
        "approx",
        "dept",
        "gen",
        "gov",
        "lt",
        "col",
        "sgt",
        "capt",
        "rev",
        "inc",
        "ltd",
        "co",
        "corp",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "u.s",
        "u.k",
        "u.n",
        "e.u",
    ]
)
# a candidate end: terminal punctuation, closing quotes/brackets, white space, then the start
# of a sentence (capital, digit, opening quote or bracket)
_END = re.compile(r"""([.!?]+["'”’)\]]*)\s+(?=["'“‘(\[]?[A-Z0-9])""")


def split_sentences(text: str) -> list[str]:
    """A document's sentences, in order, stripped; none for a blank text."""
    sentences: list[str] = []
    for line in text.splitlines():
        start = 0
        for match in _END.finditer(line):
            if _is_abbreviation(line[start : match.end(1)]):
                continue
            sentences.append(line[start : match.end(1)].strip())
            start = match.end()
        sentences.append(line[start:].strip())
    return [s for s in sentences if s]


def _is_abbreviation(piece: str) -> bool:
    """Whether `piece` ends with an abbreviation's or an initial's full stop ('Dr.', 'J.')."""
    if not piece.endswith("."):
        return False
    words = piece[:-1].split()
    last = words[-1].lower().strip("(\"'") if words else ""
    return last in ABBREVIATIONS or (len(last) == 1 and last.isalpha() and words[-1].isupper())


def sentences_of(value: Any) -> list[str]:
    """A document's sentences: a list (or a string holding a JSON list) of strings is taken
    as already split; any other string goes through `split_sentences`."""
    if isinstance(value, list | tuple | np.ndarray):
        return [str(s).strip() for s in value if str(s).strip()]
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(s, str) for s in parsed):
            return [s.strip() for s in parsed if s.strip()]
    return split_sentences(text)


def documents(series: pd.Series, limit: int, name: str) -> list[list[str]]:
    """Each row's sentences, at most `limit` (the first ones); a row without any is the
    user's error, naming the row."""
    found = [
        [] if m else sentences_of(v)[:limit]
        for v, m in zip(series, is_missing(series), strict=True)
    ]
    empty = [i for i, s in enumerate(found) if not s]
    if empty:
        raise UserError(
            f"input '{name}' {row_label(series, empty[0])}: the document in column '{series.name}' "
            f"has no sentences ({len(empty)} such rows); fill it in or remove the row"
        )
    return found


@dataclass
class DocumentSentences:
    """Sentence mode of a text input (set by an extractive summary output): each document is
    tokenised sentence by sentence into (N, S, L) ids, or (N, S, 2, L) ids and attention mask
    with a pretrained encoder; S = most sentences of a row (at most `limit`), missing
    sentences all 0. `last` holds the sentences of the rows transformed last and `rows` their
    index (prediction writes the chosen sentences from them)."""

    limit: int
    last: list[list[str]] | None = None
    rows: pd.Index | None = None

    def transform(self, feature: Any, series: pd.Series) -> torch.Tensor:
        """`feature`: the TextFeature in this mode."""
        docs = documents(series, self.limit, feature.name)
        self.last, self.rows = docs, series.index
        flat = [s for doc in docs for s in doc]
        if feature.pretrained:
            ids = feature._transform_pretrained(flat)[0]  # (M, 2, L)
        else:
            ids = feature._pad(feature.tokenizer.encode_batch(flat))  # (M, L)
        most = max(len(doc) for doc in docs)
        out = torch.zeros((len(docs), most, *ids.shape[1:]), dtype=ids.dtype)
        start = 0
        for row, doc in enumerate(docs):
            out[row, : len(doc)] = ids[start : start + len(doc)]
            start += len(doc)
        return out
