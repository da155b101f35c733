"""Metrics of generated text: corpus BLEU and chrF from sacrebleu (the reference implementation,
default settings: 13a tokenization, chrF with character 6-grams and beta 2)."""

from __future__ import annotations

from typing import Any

import torch


def translation_metrics(references: list[str], hypotheses: list[str]) -> dict[str, float]:
    """Corpus `bleu` and `chrf` (0-100, higher is better) of hypotheses against one reference each."""
    import sacrebleu

    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    if not references:
        raise ValueError("cannot compute metrics on zero examples")
    return {
        "bleu": float(sacrebleu.corpus_bleu(hypotheses, [references]).score),
        "chrf": float(sacrebleu.corpus_chrf(hypotheses, [references]).score),
    }


def text_metrics(feature: Any, predicted: torch.Tensor, references: list[str]) -> dict[str, float]:
    """bleu and chrf of a transformer-decoded text output: predicted ids (N, T), decoded by the
    output's feature, against the N raw reference texts of the data (not rebuilt from token
    ids: no [UNK], normalisation or cut at max_length; ctc outputs:
    tasks.speech.transcript_metrics)."""
    return translation_metrics(references, feature.decode(predicted))
