"""`modelyard explain` for a question answering run: which tokens of the question and the
context drove the answer's start and end. Integrated gradients (captum's
LayerIntegratedGradients) over the token embeddings of the window that holds the answer,
explaining the start score at the answer's first token and the end score at its last; the
baseline replaces every question and context token by [PAD] (the special tokens stay).
Per row: {row, prediction, start, end, attributions: {start: {tokens, scores}, end: {tokens,
scores}}}; global: the mean total |attribution| of start and end."""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch

from modelyard.errors import UserError
from modelyard.qa.windows import char_to_tokens, make_windows

DEFAULT_ROWS = 10


def explain_answers(model, frame: pd.DataFrame, rows: int | None, method: str) -> dict[str, Any]:
    """The explanation dict (see the module) of the first `rows` (default 10) questions."""
    from modelyard.qa.data import questions_of

    if method != "integrated_gradients":
        raise UserError(
            f"--method {method}: a question answering run is explained by integrated_gradients only"
        )
    if rows is not None and rows < 1:
        raise UserError(f"--rows {rows}: give at least 1")
    found = questions_of(frame.head(rows or DEFAULT_ROWS), model.config.data.columns, "data", False)
    answers = model.answer(found.questions, found.contexts)
    model.module.eval()
    explained = [
        _explain_one(model, q, c, a, r)
        for q, c, a, r in zip(found.questions, found.contexts, answers, found.rows, strict=True)
    ]
    names = ("start", "end")
    total = {
        n: sum(sum(abs(s) for s in e["attributions"][n]["scores"]) for e in explained)
        for n in names
    }
    return {
        "method": method,
        "output": "answer",
        "target": "start and end of the predicted answer",
        "rows": explained,
        "global": {n: total[n] / max(len(explained), 1) for n in names},
    }


def _explain_one(model, question: str, context: str, answer, row: str) -> dict[str, Any]:
    from captum.attr import LayerIntegratedGradients

    w = model.config.windows
    windows = make_windows(model.tokenizer, [question], [context], w.max_length, w.stride)
    window, first, last = 0, 0, 0
    for i in range(len(windows)):
        first, last = char_to_tokens(windows.offsets[i], (answer.start, answer.end))
        if (first, last) != (0, 0):
            window = i
            break
    batch = {k: v[window : window + 1] for k, v in windows.tensors.items()}
    length = int(batch["attention_mask"].sum())
    batch = {k: v[:, :length] for k, v in batch.items()}
    ids = batch["input_ids"]
    special = torch.tensor(
        model.tokenizer.get_special_tokens_mask(ids[0].tolist(), already_has_special_tokens=True)
    ).bool()
    baseline = ids.masked_fill(~special[None, :], model.tokenizer.pad_token_id)
    others = {k: v for k, v in batch.items() if k != "input_ids"}
    layer = LayerIntegratedGradients(
        lambda input_ids, end: _score(model.module, input_ids, others, end),
        model.module.get_input_embeddings(),
    )
    tokens = model.tokenizer.convert_ids_to_tokens(ids[0].tolist())
    attributions = {}
    for name, position, end in (("start", first, False), ("end", last, True)):
        found = layer.attribute(
            ids, baselines=baseline, target=position, additional_forward_args=(end,), n_steps=32
        )
        scores = found.sum(dim=-1)[0]
        attributions[name] = {"tokens": tokens, "scores": [float(s) for s in scores]}
    with torch.no_grad():
        value, at_baseline = (
            float(
                _score(model.module, x, others, False)[0, first]
                + _score(model.module, x, others, True)[0, last]
            )
            for x in (ids, baseline)
        )
    return {
        "row": row,
        "prediction": answer.text,
        "start": answer.start,
        "end": answer.end,
        "target": "start + end score",
        "value": value,
        "baseline_value": at_baseline,
        "attributions": attributions,
    }


def _score(module, input_ids: torch.Tensor, others: dict, end: bool) -> torch.Tensor:
    """(B, L) ids -> (B, L) start (or end) scores; the other inputs repeated to B rows."""
    batch = {k: v.expand(len(input_ids), -1) for k, v in others.items()}
    output = module(input_ids=input_ids, **batch)
    return output.end_logits if end else output.start_logits
