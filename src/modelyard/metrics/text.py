"""Metrics of transcripts: corpus word and character error rates from jiwer (the reference
implementation: total edits over total reference words or characters; lower is better)."""

from __future__ import annotations


def transcription_metrics(references: list[str], hypotheses: list[str]) -> dict[str, float]:
    """`wer` and `cer` of one hypothesis per reference. References must not be empty (the
    text output's preprocessing refuses empty targets); hypotheses may be."""
    import jiwer

    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    if not references:
        raise ValueError("cannot compute metrics on zero examples")
    return {
        "wer": float(jiwer.wer(references, hypotheses)),
        "cer": float(jiwer.cer(references, hypotheses)),
    }
