"""The labels of a summary output: sentence labels for an extractive summary (from a labels
column, or the greedy oracle against the reference), target token ids for an abstractive one
(the text output's feature). `summary_feature` picks one by `method`."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import torch

from modelyard.data.features.base import Feature, is_missing, row_label
from modelyard.data.features.text import TextFeature
from modelyard.data.features.text_target import TextTargetFeature
from modelyard.errors import UserError
from modelyard.tasks.summary.select import Budget, oracle, soft_oracle
from modelyard.tasks.summary.sentences import DocumentSentences

NO_SENTENCE = -1.0  # target of a position past a document's last sentence


def summary_feature(config: Any, is_output: bool = True) -> Feature:
    """The feature of a summary output, by its `method`."""
    if config.method == "extractive":
        return SentenceLabels(config, is_output)
    return AbstractiveTarget(config, is_output)


def budget_of(config: Any) -> Budget:
    return Budget(config.max_sentences, config.max_words)


def references_of(name: str, series: pd.Series) -> list[str]:
    """The reference summaries; an empty one is the user's error, naming its row."""
    empty = np.flatnonzero(is_missing(series))
    if len(empty):
        raise UserError(
            f"output '{name}' {row_label(series, int(empty[0]))}: the reference summary in column "
            f"'{series.name}' is empty ({len(empty)} rows); fill it in or remove the row"
        )
    return [str(v) for v in series]


class AbstractiveTarget(TextTargetFeature):
    """Target token ids of an abstractive summary: the text output's feature, under this type."""

    type = "summary"


class SentenceLabels(Feature):
    """(N, S) float32 sentence labels: 1 in the summary, 0 not (`oracle: soft`: between 0 and
    1), -1 past the document's end.
    S and the sentences are those of the document input, which `attach` puts in sentence mode
    (`DocumentSentences`); its rows transformed last are the rows labelled here."""

    type = "summary"
    document: TextFeature

    def attach(self, inputs: list[Feature]) -> None:
        texts = [f for f in inputs if isinstance(f, TextFeature)]
        if len(texts) != 1:  # the config check says so first
            raise UserError(f"output '{self.name}' (summary) needs exactly one text input")
        self.document = texts[0]
        self.document.sentences = DocumentSentences(self.config.max_document_sentences)

    def column_of(self, frame: pd.DataFrame) -> pd.Series | pd.DataFrame:
        """The reference summaries; with `labels_column`, a frame of both columns."""
        summaries = super().column_of(frame)
        extra = self.config.labels_column
        if extra is None:
            return summaries
        if extra not in frame.columns:
            raise UserError(
                f"output '{self.name}': labels_column '{extra}' is not in the data; "
                "name the column of sentence labels, or remove labels_column to use oracle labels"
            )
        return frame[[self.column, extra]]

    def fit(self, series: pd.Series) -> None:
        references_of(self.name, series)

    def references(self, frame: pd.DataFrame) -> list[str]:
        return references_of(self.name, super().column_of(frame))

    def transform(self, values: pd.Series | pd.DataFrame) -> torch.Tensor:
        docs = self.sentences_for(values.index)
        if isinstance(values, pd.DataFrame):
            references_of(self.name, values[self.column])
            chosen = self._given(values[self.config.labels_column], docs)
        elif self.config.oracle == "soft":
            return self._soft(docs, references_of(self.name, values))
        else:
            budget = budget_of(self.config)
            chosen = [
                oracle(d, r, budget)
                for d, r in zip(docs, references_of(self.name, values), strict=True)
            ]
        labels = np.full((len(docs), max(len(d) for d in docs)), NO_SENTENCE, dtype=np.float32)
        for row, (doc, picked) in enumerate(zip(docs, chosen, strict=True)):
            labels[row, : len(doc)] = 0.0
            labels[row, picked] = 1.0
        return torch.from_numpy(labels)

    def _soft(self, docs: list[list[str]], references: list[str]) -> torch.Tensor:
        labels = np.full((len(docs), max(len(d) for d in docs)), NO_SENTENCE, dtype=np.float32)
        for row, (doc, reference) in enumerate(zip(docs, references, strict=True)):
            labels[row, : len(doc)] = soft_oracle(doc, reference)
        return torch.from_numpy(labels)

    def sentences_for(self, rows: pd.Index) -> list[list[str]]:
        """The document sentences of `rows`, as the document input transformed them last."""
        mode = self.document.sentences
        if mode.last is None or mode.rows is None or not mode.rows.equals(rows):
            raise RuntimeError("the document input must be transformed first, on the same rows")
        return mode.last

    def _given(self, series: pd.Series, docs: list[list[str]]) -> list[list[int]]:
        """Indices of the sentences labelled 1 in a labels column (a JSON list per row)."""
        chosen = []
        for position, (value, doc) in enumerate(zip(series, docs, strict=True)):
            flags = _flags(value)
            if flags is None or len(flags) < len(doc):
                raise UserError(
                    f"output '{self.name}' {row_label(series, position)}: column '{series.name}' must hold "
                    f"a JSON list of 0/1, one per sentence of the document ({len(doc)} or more); fix the data"
                )
            chosen.append([i for i, flag in enumerate(flags[: len(doc)]) if flag])
        return chosen

    def state(self) -> dict[str, Any]:
        return {}  # nothing learned: the labels come from each row

    def load_state(self, state: dict[str, Any]) -> None:
        pass


def _flags(value: Any) -> list[int] | None:
    """A labels value (a list, or a string holding a JSON list) as 0/1 ints; None if it is not."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    if not isinstance(value, list | tuple | np.ndarray):
        return None
    try:
        return [int(float(v)) for v in value]
    except (TypeError, ValueError):
        return None
