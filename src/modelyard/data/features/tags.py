"""Tags outputs (NER, part of speech): one tag per word of the text input, aligned to its tokens."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import torch

from modelyard.data.features.base import Feature, is_missing, row_label
from modelyard.data.features.text import Alignment, TextFeature, split_words
from modelyard.errors import UserError

IGNORE = (
    -100
)  # target of padding, continuation pieces and special tokens (cross_entropy's ignore_index)
OUTSIDE = "O"


def is_bio(tag: str) -> bool:
    """A tag of the BIO (IOB2) scheme, or its BIOES extension: O, B-X, I-X, E-X, S-X."""
    return tag == OUTSIDE or (len(tag) > 2 and tag[:2] in ("B-", "I-", "E-", "S-"))


class TagsFeature(Feature):
    """(N, L) int64 tag index at the first token of each word of the text input, -100 elsewhere.

    `text` is the text input whose tokens are tagged, linked by `attach` (called by
    `Preprocessing`), which also puts that input in word mode. Its `alignment` says which
    positions start a word, for the rows it transformed last (the same rows, in
    `Preprocessing.prepare` and in prediction).
    """

    type = "tags"
    text: TextFeature | None = None

    def attach(self, inputs: list[Feature]) -> None:
        texts = [f for f in inputs if isinstance(f, TextFeature)]
        if len(texts) != 1:  # the config check tags_output_fits says so first
            raise UserError(f"output '{self.name}' (tags) needs exactly one text input")
        self.text = texts[0]
        self.text.words = True

    def fit(self, series: pd.Series) -> None:
        tags = {tag for value in series for tag in split_words(value)[0]}
        if not tags:
            raise UserError(f"column '{self.column}' has no tags in the training data")
        self.vocab = sorted(tags, key=lambda t: (t != OUTSIDE, t))  # O first, when present
        self.bio = all(is_bio(t) for t in self.vocab)

    def unseen_rows(self, series: pd.Series) -> np.ndarray:
        """(N,) bool: rows holding a tag that was not in the training data (they are dropped)."""
        known = set(self.vocab)
        return np.array([not set(split_words(v)[0]) <= known for v in series], dtype=bool)

    def transform(self, series: pd.Series) -> torch.Tensor:
        alignment = self._alignment(series.index)
        index = {tag: i for i, tag in enumerate(self.vocab)}
        targets = np.full((len(series), alignment.length), IGNORE, dtype=np.int64)
        missing = is_missing(series)
        for row, value in enumerate(series):
            tags = [] if missing[row] else split_words(value)[0]
            words = alignment.word_counts[row]
            if len(tags) != words:
                raise UserError(
                    f"column '{self.column}' {row_label(series, row)}: {len(tags)} tags for {words} tokens "
                    f"in '{self.text.column}'; give exactly one tag per token"
                )
            for word, position in alignment.first_pieces(row).items():
                targets[row, position] = index[tags[word]]
        return torch.from_numpy(targets)

    def _alignment(self, rows: pd.Index | int) -> Alignment:
        """The text input's alignment, checked to be of these rows (or of this many rows)."""
        alignment = self.text.alignment if self.text is not None else None
        same = alignment is not None and (
            alignment.rows.equals(rows)
            if isinstance(rows, pd.Index)
            else len(alignment.rows) == rows
        )
        if not same:
            raise RuntimeError(
                f"output '{self.name}': the text input was not transformed on these rows first"
            )
        return alignment

    def sequences(
        self, logits: torch.Tensor, target: torch.Tensor
    ) -> tuple[list[list[str]], list[list[str]]]:
        """(N, L, T) logits and (N, L) targets -> (true, predicted) tags per row, over the
        labelled positions (each word's first token)."""
        chosen = logits.argmax(dim=-1)  # (N, L)
        labelled = target != IGNORE
        true, predicted = [], []
        for row in range(len(target)):
            keep = labelled[row]
            true.append([self.vocab[i] for i in target[row][keep].tolist()])
            predicted.append([self.vocab[i] for i in chosen[row][keep].tolist()])
        return true, predicted

    def predictions(self, logits: torch.Tensor) -> list[str]:
        """(N, L, T) logits of the rows the text input transformed last -> per row, the tag of
        each word's first token, space-separated (a JSON list where the input was one). Words
        cut off by max_length get O (or the first tag)."""
        alignment = self._alignment(len(logits))
        chosen = logits.argmax(dim=-1).tolist()  # (N, L)
        rows = []
        for row, words in enumerate(alignment.word_counts):
            tags = [self.vocab[0]] * words
            for word, position in alignment.first_pieces(row).items():
                tags[word] = self.vocab[chosen[row][position]]
            rows.append(
                json.dumps(tags, ensure_ascii=False) if alignment.json_rows[row] else " ".join(tags)
            )
        return rows

    def state(self) -> dict[str, Any]:
        return {"tags": self.vocab}

    def load_state(self, state: dict[str, Any]) -> None:
        self.vocab = state["tags"]
        self.bio = all(is_bio(t) for t in self.vocab)
