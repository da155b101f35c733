"""Cross-field rules of `task: question_answering` configs (config/checks.py runs them)."""

from __future__ import annotations


def early_stopping_metric(config) -> list[str]:
    stopping = config.trainer.early_stopping
    known = ("loss", "exact_match", "f1")
    if stopping is not None and stopping.metric not in known:
        return [
            f"trainer.early_stopping.metric: question answering measures {', '.join(known)}, "
            f"not '{stopping.metric}'"
        ]
    return []


def stride_fits(config) -> list[str]:
    w = config.windows
    if w.stride is not None and w.stride >= w.max_length // 2:
        return [
            f"windows.stride: {w.stride} tokens of overlap leave too little new context per window "
            f"of {w.max_length}; use less than half of max_length (e.g. {w.max_length // 4})"
        ]
    return []


CHECKS = [early_stopping_metric, stride_fits]
