"""Summarisation: a summary of a text input (the document), extractive (whole sentences of the
document, scored one by one: `model.py`) or abstractive (new text from the encoder-decoder of
text outputs: `tasks/seq2seq.py`). Both are scored by ROUGE against the reference summaries,
next to the Lead-3, Lead-k and TextRank baselines and the oracle on the same documents
(`select.py`), so a figure always comes with what the trivial answers get."""

from __future__ import annotations

import json

import numpy as np
from torch import nn

from modelyard.config.schema.outputs import SummaryOutput
from modelyard.data.features.text_target import TOKENS
from modelyard.tasks.base import HIGHER, Task
from modelyard.tasks.summary.feature import budget_of, summary_feature

ROUGE = ["rouge1", "rouge2", "rougeL"]
SYSTEMS = ["lead3", "lead", "textrank", "oracle"]  # scored with the final metrics only
METRICS = ROUGE + [f"{system}_{name}" for system in SYSTEMS for name in ROUGE]
SENTENCES = "_sentences"  # extractive predictions: `<output>_sentences`, chosen indices


class SummaryTask(Task):
    """The model's outputs: extractive `outputs[name]` (N, S) sentence scores; abstractive as
    a text output's (`outputs[name + TOKENS]` the generated ids in eval mode)."""

    type = "summary"
    schema = SummaryOutput
    feature = staticmethod(summary_feature)  # type: ignore[assignment]  # a class per method
    metrics = dict.fromkeys(METRICS, HIGHER)
    capabilities = frozenset({"serve"})
    own_model = True
    text_encoder_default = "cnn"
    labels_may_be_missing = False  # the features refuse empty references and documents

    def build(self, config, preprocessing) -> nn.Module:
        (output,) = preprocessing.outputs  # config checks: one summary output, one text input
        if output.config.method == "abstractive":
            from modelyard.tasks.text import _seq2seq

            return _seq2seq(preprocessing)
        return _extractive(preprocessing)

    def loss(self, output):
        if output.method == "abstractive":
            from modelyard.tasks.seq2seq import SequenceLoss

            return SequenceLoss(output.label_smoothing)
        from modelyard.tasks.summary.model import sentence_loss

        return sentence_loss

    def masks_missing_labels(self, output) -> bool:
        return False  # every row kept has its reference

    def metric_names(self, output) -> list[str]:
        return list(METRICS)

    def epoch_metrics(self, output) -> list[str]:
        return ["rouge1", "rougeL"]

    def score(self, feature, outputs, table, details: bool):
        """ROUGE of the summaries against the raw references; with `details` (final metrics),
        the baselines' and the oracle's on the same documents too."""
        from modelyard.metrics.summarisation import rouge
        from modelyard.tasks.summary.sentences import documents

        references = feature.references(table.frame)
        config = feature.config
        document = _document_input(feature)
        docs = documents(
            document.column_of(table.frame), config.max_document_sentences, document.name
        )
        found = rouge(references, summaries(feature, outputs, docs))
        if details:
            found.update(baseline_scores(docs, references, budget_of(config)))
        return found, {}

    def predictions(self, feature, outputs):
        """The summary; extractive also `<output>_sentences`, the chosen sentences' indices
        (0 = the document's first), as a JSON list."""
        name = feature.name
        if feature.config.method == "abstractive":
            return {f"{name}_prediction": feature.decode(outputs[name + TOKENS])}
        docs = feature.document.sentences.last
        chosen = extractive_choices(outputs[name].numpy(), docs, budget_of(feature.config))
        texts = [
            _text(doc, picked, feature.config) for doc, picked in zip(docs, chosen, strict=True)
        ]
        return {f"{name}_prediction": texts, f"{name}{SENTENCES}": [json.dumps(c) for c in chosen]}

    def check(self, config, index: int) -> list[str]:
        from modelyard.tasks.summary.checks import summary_fits

        return summary_fits(config, index)


def _document_input(feature):
    return feature.document if feature.config.method == "extractive" else feature.source_input


def _text(doc: list[str], chosen: list[int], config) -> str:
    from modelyard.tasks.summary.select import summary_text

    return summary_text(doc, chosen, budget_of(config))


def extractive_choices(scores: np.ndarray, docs: list[list[str]], budget) -> list[list[int]]:
    """(N, S) sentence scores -> each document's chosen sentences, in document order."""
    from modelyard.tasks.summary.select import select

    return [select(row[: len(doc)], doc, budget) for row, doc in zip(scores, docs, strict=True)]


def summaries(feature, outputs, docs: list[list[str]]) -> list[str]:
    """The model's summary of each document."""
    if feature.config.method == "abstractive":
        return feature.decode(outputs[feature.name + TOKENS])
    chosen = extractive_choices(outputs[feature.name].numpy(), docs, budget_of(feature.config))
    return [_text(doc, picked, feature.config) for doc, picked in zip(docs, chosen, strict=True)]


def baseline_scores(docs: list[list[str]], references: list[str], budget) -> dict[str, float]:
    """`lead3_*` (the first three sentences), `lead_*` (the first ones within the budget),
    `textrank_*` (TextRank within the budget) and `oracle_*` (the greedy oracle's sentences)."""
    from modelyard.metrics.summarisation import rouge
    from modelyard.tasks.summary import select as s

    three = s.Budget(3, None)
    systems = {
        "lead3": lambda d, r: s.summary_text(d, s.lead(d, three), three),
        "lead": lambda d, r: s.summary_text(d, s.lead(d, budget), budget),
        "textrank": lambda d, r: s.summary_text(
            d, s.select(s.textrank_scores(d), d, budget), budget
        ),
        "oracle": lambda d, r: s.summary_text(d, s.oracle(d, r, budget) or [0], budget),
    }
    found = {}
    for system, summarise in systems.items():
        texts = [summarise(d, r) for d, r in zip(docs, references, strict=True)]
        found.update({f"{system}_{k}": v for k, v in rouge(references, texts).items()})
    return found


def _extractive(preprocessing) -> nn.Module:
    """Document input -> sentence vectors from its encoder -> SentenceScorer."""
    from modelyard.models.build import ENCODERS
    from modelyard.tasks.summary.model import ExtractiveSummariser, SentenceScorer

    (document,), (output,) = preprocessing.inputs, preprocessing.outputs
    encoder = ENCODERS.get(f"text.{document.config.encoder.type}")(
        document.config.encoder, document
    )
    cfg = output.config.scorer
    scorer = SentenceScorer(
        encoder.output_size,
        cfg.dim,
        cfg.layers,
        cfg.heads,
        cfg.dropout,
        output.config.max_document_sentences,
        cfg.centrality,
        cfg.length,
    )
    return ExtractiveSummariser(document.name, encoder, output.name, scorer)
