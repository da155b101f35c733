"""Text inputs of the `bow` encoder: the distinct word and character n-grams of each text and
their counts, from a vocabulary with document frequencies fitted in mergeable parts."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch

from modelyard.data.features.text import TextFeature
from modelyard.errors import UserError

PAD = "[PAD]"  # id 0; word n-grams take ids 1..W, character n-grams W+1..V-1


def analyzers(encoder: Any, lowercase: bool) -> list[Callable[[str], list[str]]]:
    """scikit-learn's n-gram analyzers for the encoder's `words` and `chars` ranges (one per
    kind that is set), so the n-grams are exactly those of TfidfVectorizer."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    found = []
    if encoder.words:
        found.append(
            TfidfVectorizer(ngram_range=tuple(encoder.words), lowercase=lowercase).build_analyzer()
        )
    if encoder.chars:
        found.append(
            TfidfVectorizer(
                analyzer="char_wb", ngram_range=tuple(encoder.chars), lowercase=lowercase
            ).build_analyzer()
        )
    return found


class BowTextFeature(TextFeature):
    """(N, 2, K) int32 (half the memory of int64: a split is padded to its longest row): per
    row the ids of its distinct known n-grams (row 0) and how often each occurs (row 1),
    0-padded; K = most n-grams of a row, at most `encoder.per_text` (a longer text keeps those
    of highest tf-idf weight). `idf` (V,) and `first_char_id` go to the encoder, which weighs
    and normalises the counts.

    The fit counts each n-gram's document frequency part by part (the counts add up), so a
    streamed fit and an in-memory one give the same vocabulary.
    """

    trains_from_iterator = False
    export_preprocessing = "(batch, 2, n) int32 ids of the text's distinct n-grams in preprocessing.json's vocabulary (word n-grams, then char_wb n-grams, as scikit-learn's TfidfVectorizer makes them) and their counts; 0 = padding"

    def fit(self, series: pd.Series) -> None:
        from modelyard.data.features.base import fit_in_parts

        fit_in_parts(self, series)

    def start_fit(self) -> None:
        super().start_fit()
        self._analyzers = analyzers(self.config.encoder, self.config.preprocessing.lowercase)
        self._frequency: list[Counter] = [Counter() for _ in self._analyzers]
        self._rows = 0

    def fit_part(self, series: pd.Series) -> None:
        super().fit_part(series)
        for text in self._texts(series):
            for analyze, frequency in zip(self._analyzers, self._frequency, strict=True):
                frequency.update(set(analyze(text)))
        self._rows += len(series)

    def end_fit(self) -> None:
        """The vocabulary: n-grams in at least `min_count` training texts, the `max_ngrams`
        most frequent of them (ties by n-gram), words first; idf as scikit-learn's smooth idf."""
        self.end_fit_from(None)

    def end_fit_from(self, again) -> None:
        self._require_text()
        encoder = self.config.encoder
        kept = [
            (-count, kind, gram)
            for kind, frequency in enumerate(self._frequency)
            for gram, count in frequency.items()
            if count >= encoder.min_count
        ]
        kept = sorted(sorted(kept)[: encoder.max_ngrams], key=lambda k: (k[1], k[2]))
        if not kept:
            raise UserError(
                f"input '{self.name}': no n-gram occurs in {encoder.min_count} training texts; lower encoder.min_count"
            )
        grams = [[g for _, kind, g in kept if kind == k] for k in range(len(self._analyzers))]
        document = [-c for c, _, _ in kept]
        idf = [math.log((1 + self._rows) / (1 + d)) + 1 for d in document]
        self._set_vocabulary(grams, [1.0, *idf])
        del self._frequency

    def _set_vocabulary(self, grams: list[list[str]], idf: list[float]) -> None:
        self.grams = grams
        self.idf = torch.tensor(idf, dtype=torch.float32)
        self._analyzers = analyzers(self.config.encoder, self.config.preprocessing.lowercase)
        self._ids: list[dict[str, int]] = []
        start = 1
        for kind in grams:
            self._ids.append({g: start + i for i, g in enumerate(kind)})
            start += len(kind)

    @property
    def vocab_size(self) -> int:
        return len(self.idf)

    @property
    def first_char_id(self) -> int:
        """The first id of a character n-gram (V when there are none)."""
        return 1 + len(self.grams[0]) if self.config.encoder.words else 1

    def transform(self, series: pd.Series) -> torch.Tensor:
        rows = [self._row(text) for text in self._texts(series)]
        width = max(1, max(len(ids) for ids, _ in rows))
        cut = sum(len(ids) > self.config.encoder.per_text for ids, _ in rows)
        if cut:
            self.note(
                f"{cut} texts keep their {self.config.encoder.per_text} n-grams of highest weight"
            )
        width = min(width, self.config.encoder.per_text)
        out = np.zeros((len(rows), 2, width), dtype=np.int32)
        for i, (ids, counts) in enumerate(rows):
            out[i, 0, : len(ids)] = ids[:width]
            out[i, 1, : len(ids)] = counts[:width]
        return torch.from_numpy(out)

    def _row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """One text's known n-gram ids and counts, highest tf-idf weight first when cut."""
        found: Counter = Counter()
        for analyze, ids in zip(self._analyzers, self._ids, strict=True):
            found.update(map(ids.get, analyze(text)))
        found.pop(None, None)  # n-grams out of the vocabulary
        ids = np.fromiter(found.keys(), dtype=np.int64, count=len(found))
        counts = np.fromiter(found.values(), dtype=np.int64, count=len(found))
        if len(ids) > self.config.encoder.per_text:
            order = np.argsort(-(1 + np.log(counts)) * self.idf.numpy()[ids], kind="stable")
            ids, counts = ids[order], counts[order]
        return ids, counts

    # --- what tools ask a text input

    def example_tensor(self, rows: int, generator: torch.Generator) -> torch.Tensor:
        """(rows, 2, 16): random distinct-looking ids with counts 1-3, half of each row padding."""
        length = min(16, self.config.encoder.per_text)
        ids = torch.randint(1, max(2, self.vocab_size), (rows, length), generator=generator)
        counts = torch.randint(1, 4, (rows, length), generator=generator)
        ids[:, length // 2 :] = 0
        counts[:, length // 2 :] = 0
        return torch.stack([ids, counts], dim=1).int()

    def length_axis(self) -> tuple[int, int]:
        return 2, self.config.encoder.per_text

    def export_description(self) -> dict[str, Any]:
        return {
            "preprocessing": self.export_preprocessing,
            "vocabulary": f"model/preprocessing.json, key {self.name}.grams (ids from 1, in order)",
            "max_length": self.config.encoder.per_text,
        }

    def explain_baseline(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)

    def token_strings(self, ids: list[int]) -> list[str]:
        """Each id as its n-gram ("?" for an id out of the vocabulary)."""
        flat = [PAD] + [g for kind in self.grams for g in kind]
        return [flat[i] if 0 <= i < len(flat) else "?" for i in ids]

    def state(self) -> dict[str, Any]:
        return {"grams": self.grams, "idf": self.idf.tolist()}

    def load_state(self, state: dict[str, Any]) -> None:
        self._set_vocabulary(state["grams"], state["idf"])
