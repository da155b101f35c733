"""The answer of each question from the start/end scores of its windows, as transformers'
utils_qa.postprocess_qa_predictions chooses it: in each window the `n_best` highest start
scores and end scores are paired; a pair counts where both tokens are in the context, the end
is not before the start and the span is at most `max_answer_length` tokens; its score is
start + end. The best pair over all windows of the question wins. With `no_answer`, the
null score is the smallest [CLS] start + end over the windows, and the answer is "" when it
beats the best span's score by more than `threshold`. A question's `score` is the winner's
probability: the softmax over its candidates' scores (the null one included, if allowed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from modelyard.qa.windows import Windows, tokens_to_chars


@dataclass(frozen=True)
class Answer:
    """text = context[start:end]; start = end = 0 and text "" for no answer."""

    text: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Choice:
    """How answers are chosen (config `answers`)."""

    max_answer_length: int = 30
    n_best: int = 20
    no_answer: bool = False
    threshold: float = 0.0


def window_candidates(
    start_logits: torch.Tensor, end_logits: torch.Tensor, offsets: np.ndarray, choice: Choice
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One window: (L,) start and end scores, (L, 2) context offsets -> the allowed pairs'
    (K,) scores, (K,) start tokens and (K,) end tokens (K <= n_best**2)."""
    n = min(choice.n_best, len(start_logits))
    top_start = torch.topk(start_logits, n).indices  # (n,)
    top_end = torch.topk(end_logits, n).indices  # (n,)
    in_context = torch.from_numpy(offsets[:, 0] >= 0)  # (L,)
    starts, ends = top_start[:, None].expand(n, n), top_end[None, :].expand(n, n)  # (n, n)
    length = ends - starts + 1
    allowed = (
        in_context[starts] & in_context[ends] & (length >= 1) & (length <= choice.max_answer_length)
    )
    scores = start_logits[starts] + end_logits[ends]
    return scores[allowed], starts[allowed], ends[allowed]


def best_answers(
    windows: Windows,
    start_logits: torch.Tensor,
    end_logits: torch.Tensor,
    contexts: list[str],
    choice: Choice,
) -> list[Answer]:
    """(W, L) float scores of every window -> one Answer per question (N = len(contexts))."""
    start_logits, end_logits = start_logits.float().cpu(), end_logits.float().cpu()
    found: list[list] = [[] for _ in contexts]  # per question: (scores, starts, ends, window)
    null = [float("inf")] * len(contexts)
    for w, question in enumerate(windows.example):
        scores, starts, ends = window_candidates(
            start_logits[w], end_logits[w], windows.offsets[w], choice
        )
        found[question].append((scores, starts, ends, w))
        null[question] = min(null[question], float(start_logits[w, 0] + end_logits[w, 0]))
    return [_choose(found[q], null[q], contexts[q], windows, choice) for q in range(len(contexts))]


def _choose(candidates: list, null: float, context: str, windows: Windows, choice) -> Answer:
    """The best span among one question's candidates (or no answer)."""
    scores = torch.cat([c[0] for c in candidates]) if candidates else torch.zeros(0)
    everything = torch.cat([scores, torch.tensor([null])]) if choice.no_answer else scores
    if len(scores) == 0:
        return Answer("", 0, 0, 1.0 if choice.no_answer else 0.0)
    probabilities = torch.softmax(everything, dim=0)
    best = int(torch.argmax(scores))
    if choice.no_answer and null > float(scores[best]) + choice.threshold:
        return Answer("", 0, 0, float(probabilities[-1]))
    window, at = _locate(candidates, best)
    start, end = tokens_to_chars(windows.offsets[window], *at)
    return Answer(context[start:end], start, end, float(probabilities[best]))


def _locate(candidates: list, index: int) -> tuple[int, tuple[int, int]]:
    """The window and (start, end) tokens of the `index`-th candidate over all windows."""
    for scores, starts, ends, window in candidates:
        if index < len(scores):
            return window, (int(starts[index]), int(ends[index]))
        index -= len(scores)
    raise IndexError(index)
