"""(question, context) pairs -> token windows, and answers from characters to tokens.

Each pair becomes one or more windows of `max_length` tokens, `[CLS] question [SEP] context
piece [SEP]` (or the tokenizer's own pair template), padded; a context too long for one
window is cut into pieces overlapping by `stride` tokens (transformers' run_qa.py
`prepare_train_features` / `prepare_validation_features`, with the tokenizer's
`return_overflowing_tokens`). A window keeps the character span of each of its context
tokens, so that a span of tokens maps back to the exact characters of the context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from modelyard.errors import UserError

Span = tuple[int, int]  # [start, end) characters of the context


@dataclass
class Windows:
    """W windows of L tokens over N questions.

    tensors: {"input_ids", "attention_mask" (and "token_type_ids" where the model takes
    them)}: (W, L) int64 each; `start`/`end` (W,) int64 token positions of the answer in
    each window (0, the [CLS] token, where the window does not hold it) once `label` ran.
    example: (W,) int64, the question (0..N-1) of each window.
    offsets: (W, L, 2) int64 character [start, end) of each context token; -1 elsewhere
    (question, special and padding tokens), so a span can only start and end in the context.
    """

    tensors: dict[str, torch.Tensor]
    example: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.example)


def make_windows(
    tokenizer,
    questions: Sequence[str],
    contexts: Sequence[str],
    max_length: int,
    stride: int | None,
    rows: Sequence[str] | None = None,
) -> Windows:
    """Windows of every (question, context); `rows` names each pair in errors ("row 3").
    A context longer than one window without `stride` is an error, and so is a question
    that leaves no room for the context."""
    rows = rows if rows is not None else [f"row {i + 1}" for i in range(len(questions))]
    _check_room(tokenizer, questions, max_length, stride, rows)
    encoded = tokenizer(
        list(questions),
        list(contexts),
        truncation="only_second",
        max_length=max_length,
        stride=stride or 0,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length",
    )
    example = np.asarray(encoded["overflow_to_sample_mapping"], dtype=np.int64)
    if stride is None and len(example) > len(questions):
        first = int(np.flatnonzero(np.bincount(example) > 1)[0])
        raise UserError(
            f"{rows[first]}: the question and context take more than windows.max_length "
            f"({max_length}) tokens; set windows.stride (e.g. {max_length // 4}) to read long "
            "contexts in overlapping windows, or raise windows.max_length"
        )
    offsets = _context_offsets(encoded)
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in encoded]
    tensors = {n: torch.tensor(encoded[n], dtype=torch.int64) for n in names}
    return Windows(tensors, example, offsets)


def _check_room(tokenizer, questions, max_length: int, stride: int | None, rows) -> None:
    """The longest question, with the special tokens and `stride` context tokens, must leave
    room in a window (the tokenizer would otherwise fail with a message about truncation)."""
    lengths = [
        len(ids) for ids in tokenizer(list(questions), add_special_tokens=False)["input_ids"]
    ]
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    worst = int(np.argmax(lengths)) if lengths else 0
    room = max_length - specials - (lengths[worst] if lengths else 0)
    if room <= (stride or 0):
        raise UserError(
            f"{rows[worst]}: the question takes {lengths[worst]} tokens, which leaves {max(room, 0)} "
            f"of windows.max_length ({max_length}) for the context, not more than windows.stride "
            f"({stride or 0}); raise max_length or lower stride"
        )


def _context_offsets(encoded) -> np.ndarray:
    """(W, L, 2) character spans of the context tokens of each window; -1 elsewhere."""
    width = len(encoded["input_ids"][0]) if encoded["input_ids"] else 0
    offsets = np.full((len(encoded["input_ids"]), width, 2), -1, dtype=np.int64)
    for w, spans in enumerate(encoded["offset_mapping"]):
        sequence = encoded.sequence_ids(w)
        for t, span in enumerate(spans):
            if sequence[t] == 1:
                offsets[w, t] = span
    return offsets


def label(windows: Windows, answers: Sequence[Span | None]) -> None:
    """Set `start`/`end` (W,) token targets from each question's answer (characters of its
    context; None: no answer): the tokens covering the answer where the window holds all of
    it, else 0 ([CLS]), as run_qa.py does."""
    start = np.zeros(len(windows), dtype=np.int64)
    end = np.zeros(len(windows), dtype=np.int64)
    for w, question in enumerate(windows.example):
        span = answers[question]
        if span is not None:
            start[w], end[w] = char_to_tokens(windows.offsets[w], span)
    windows.tensors["start"] = torch.from_numpy(start)
    windows.tensors["end"] = torch.from_numpy(end)


def char_to_tokens(offsets: np.ndarray, span: Span) -> tuple[int, int]:
    """(L, 2) context offsets of one window, an answer's [start, end) characters -> the first
    and last token that overlap it; (0, 0) where the window's context does not hold it all."""
    inside = np.flatnonzero(offsets[:, 0] >= 0)
    if len(inside) == 0:
        return 0, 0
    first, last = inside[0], inside[-1]
    if offsets[first, 0] > span[0] or offsets[last, 1] < span[1]:
        return 0, 0
    tokens = inside[(offsets[inside, 1] > span[0]) & (offsets[inside, 0] < span[1])]
    if len(tokens) == 0:  # an answer of only spaces: the token after it
        tokens = inside[offsets[inside, 0] >= span[0]][:1]
    return int(tokens[0]), int(tokens[-1])


def tokens_to_chars(offsets: np.ndarray, start: int, end: int) -> Span:
    """Tokens `start`..`end` (inclusive) of one window -> their [start, end) characters."""
    return int(offsets[start, 0]), int(offsets[end, 1])
