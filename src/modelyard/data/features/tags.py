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

    def transform(self, series: pd.Series) -> torch.Tensor:
        """A tag not seen in training gets index len(vocab), which the loss skips and no
        prediction matches; a row without tags (several outputs) is all -100."""
        alignment = self._alignment(series.index)
        index = {tag: i for i, tag in enumerate(self.vocab)}
        targets = np.full((len(series), alignment.length), IGNORE, dtype=np.int64)
        missing = is_missing(series)
        unseen = 0
        for row, value in enumerate(series):
            if missing[row]:
                continue
            tags = split_words(value)[0]
            words = alignment.word_counts[row]
            if len(tags) != words:
                raise UserError(
                    f"column '{self.column}' {row_label(series, row)}: {len(tags)} tags for {words} tokens "
                    f"in '{self.text.column}'; give exactly one tag per token"
                )
            for word, position in alignment.first_pieces(row).items():
                targets[row, position] = index.get(tags[word], len(self.vocab))
            unseen += sum(tag not in index for tag in tags)
        if unseen:
            self.note(f"{unseen} tags not in the training data count as errors")
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
        self, logits: torch.Tensor, target: torch.Tensor, raw: pd.Series
    ) -> tuple[list[list[str]], list[list[str]]]:
        """(N, L, T) logits, (N, L) targets and the N raw tag values -> (true, predicted) tags
        per row. True tags are the data's own (tags unseen in training and words cut off by
        max_length included); predicted ones are read at each word's first token (the
        labelled positions, in word order), and words cut off get O (or the first tag), as in
        `predictions`. Rows without tags are skipped."""
        chosen = logits.argmax(dim=-1)  # (N, L)
        labelled = target != IGNORE
        true, predicted = [], []
        for row, value in enumerate(raw):
            tags = split_words(value)[0]
            if not tags:
                continue
            found = [self.vocab[i] for i in chosen[row][labelled[row]].tolist()]
            true.append(tags)
            predicted.append(found + [self.vocab[0]] * (len(tags) - len(found)))
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
