"""Running a trained model over a table: raw outputs, metrics, and prediction columns."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import torch
from torch import nn

from modelyard.data.features import Preprocessing, Table
from modelyard.data.files import LazyInputs
from modelyard.tasks import task_of
from modelyard.train.precision import autocast

Tensors = dict[str, torch.Tensor]


Compact = Callable[[Tensors, torch.Tensor], Tensors]


@torch.no_grad()
def infer(
    model: nn.Module,
    inputs: Tensors | LazyInputs,
    device: torch.device,
    bf16: bool,
    batch_size: int,
    compact: Compact | None = None,
    row_ids: torch.Tensor | None = None,
) -> Tensors:
    """{input: (N, ...)} -> {output: (N,) or (N, C)} float32 on the CPU, in eval mode, batched.
    `LazyInputs` (image and audio files left undecoded) decode each batch as it is needed.
    `compact(batch outputs, the batch's rows)`: what to keep of each batch (`compactor`);
    `row_ids`: the table's rows of `inputs`' rows (default: the same)."""
    if isinstance(inputs, LazyInputs):  # data/files.py: decoded by DataLoader workers
        return inputs.infer(model, device, bf16, batch_size, compact)
    was_training = model.training
    model.eval()
    order, groups = _batches(inputs, batch_size)
    chunks: dict[str, list[torch.Tensor]] = {}
    for rows in groups:
        batch = {k: v[rows].to(device) for k, v in inputs.items()}
        with autocast(device, bf16):
            out = model(batch)
        out = {name: value.float().cpu() for name, value in out.items()}
        if compact is not None:
            out = compact(out, rows if row_ids is None else row_ids[rows])
        for name, value in out.items():
            chunks.setdefault(name, []).append(value)
    model.train(was_training)
    back = torch.argsort(order)  # rows in their original order again
    return {name: torch.cat(parts)[back] for name, parts in chunks.items()}


def compactor(preprocessing: Preprocessing, table: Table) -> Compact | None:
    """What `infer` keeps of each batch's outputs: each output's `Task.compact` (given the
    batch's labels from `table` where it has them), for the tasks that compact; None if none
    does (all outputs are kept as they are)."""
    compacting = [f for f in preprocessing.outputs if task_of(f).compacts]
    if not compacting:
        return None

    def compact(outputs: Tensors, rows: torch.Tensor) -> Tensors:
        for feature in compacting:
            target = table.tensors.get(feature.name)
            target = None if target is None else target[rows]
            outputs.update(task_of(feature).compact(feature, outputs.pop(feature.name), target))
        return outputs

    return compact


def _batches(inputs: Tensors, batch_size: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(order (N,), [row indices per batch]). Rows with token ids are sorted by length and cut
    into batches of similar lengths (a batch starts anew when padding would add a quarter to its
    cost), as fairseq and HF's group_by_length do: pretrained encoders run each batch at its
    longest text, so a long text no longer makes 31 short ones pay for its length."""
    rows = len(next(iter(inputs.values())))
    lengths = _token_lengths(inputs)
    if lengths is None:
        order = torch.arange(rows)
        return order, list(torch.split(order, batch_size))
    order = torch.argsort(lengths, stable=True)
    groups, start, total = [], 0, 0
    for i, length in enumerate(lengths[order].tolist()):
        size = i - start + 1
        if size > batch_size or (size > 1 and size * length > 1.25 * (total + length)):
            groups.append(order[start:i])
            start, total = i, 0
        total += length
    groups.append(order[start:])
    return order, groups


def _token_lengths(inputs: Tensors) -> torch.Tensor | None:
    """(N,) real tokens per row over the text inputs ((N, L) ids, 0 = padding; (N, 2, L) ids and
    mask), or None when there are none."""
    lengths = [
        (x[:, 1] if x.dim() == 3 else x != 0).sum(dim=1)
        for x in inputs.values()
        if x.dtype == torch.int64 and x.dim() in (2, 3)
    ]
    return torch.stack(lengths).sum(dim=0) if lengths else None


@contextlib.contextmanager
def per_epoch(model: nn.Module) -> Iterator[None]:
    """Context for the validation after each epoch: a model that decodes with a beam (seq2seq,
    ctc: `beam_size`) decodes greedily inside, so that validation stays cheap; final metrics,
    `evaluate` and `predict` use the configured beam. Other models change nothing."""
    beam_size = getattr(model, "beam_size", None)
    if beam_size is None:
        yield
        return
    model.beam_size = 1
    try:
        yield
    finally:
        model.beam_size = beam_size


def score(
    preprocessing: Preprocessing, outputs: Tensors, table: Table, losses, details: bool = True
) -> tuple[dict[str, float], dict[str, Any]]:
    """Metrics (flat; `output.metric` when there are several outputs, plus the total `loss`)
    and per-output details for the report (confusion matrix, ROC, scatter).

    Each output is scored on the rows with its label. A class never seen in training counts
    as an error (see metrics.classification_metrics); texts and tags are scored against the
    raw references of `table.frame`. The `loss` is the training objective, the weighted sum
    of each output's loss over its rows of seen classes (number outputs: on the standardised
    scale the model is trained on). `details=False` (after each epoch) skips the report's
    details, which cost more than the metrics."""
    prefix = len(preprocessing.outputs) > 1
    flat: dict[str, float] = {"loss": _loss(preprocessing, outputs, table.tensors, losses)}
    found_details: dict[str, Any] = {}
    for feature in preprocessing.outputs:
        found, found_details[feature.name] = task_of(feature).score(
            feature, outputs, table, details
        )
        flat.update({(f"{feature.name}.{k}" if prefix else k): v for k, v in found.items()})
    return flat, found_details


def _loss(preprocessing: Preprocessing, outputs: Tensors, targets: Tensors, losses) -> float:
    total = 0.0
    for feature in preprocessing.outputs:
        weight, loss = losses[feature.name]
        kept = task_of(feature).loss_of(feature, loss, outputs)  # from a compact form
        if kept is not None:
            total += weight * kept
            continue
        values, target = outputs[feature.name], targets[feature.name]
        rows = task_of(feature).seen(feature, target)
        if rows is not None and not bool(rows.all()):
            if not bool(rows.any()):
                continue
            values, target = values[rows], target[rows]
        total += weight * float(loss(values, target))
    return total


def row_counts(preprocessing: Preprocessing, table: Table) -> dict[str, Any]:
    """What metrics.json records of a split besides its metrics: `rows` evaluated and, where
    rows were left out, `rows_left_out` ({reason: rows}); per output of several, the same for
    the rows with its label (`label.rows`, `label.rows_left_out`); for classifiers,
    `rows_unseen_class`: rows of classes never seen in training (errors in accuracy and F1,
    outside log_loss and roc_auc); and what each output's task records (`Task.record`: a
    binary output's `positive_class`)."""
    record: dict[str, Any] = {"rows": len(table)}
    if table.left_out:
        record["rows_left_out"] = dict(table.left_out)
    several = len(preprocessing.outputs) > 1
    for feature in preprocessing.outputs:
        target, name = table.tensors[feature.name], f"{feature.name}." if several else ""
        task = task_of(feature)
        record.update({f"{name}{k}": v for k, v in task.record(feature).items()})
        present = task.labelled(feature, target)
        if present is None:
            continue
        count = int(present.sum())
        if several:
            record[f"{name}rows"] = count
            if count < len(table):
                record[f"{name}rows_left_out"] = {
                    f"no '{feature.column}' label": len(table) - count
                }
        unseen = count - int(task.seen(feature, target).sum())
        if unseen:
            record[f"{name}rows_unseen_class"] = unseen
    return record


def prediction_columns(preprocessing: Preprocessing, outputs: Tensors) -> pd.DataFrame:
    """Each output's prediction columns (`<output>_prediction`, and for classifiers the
    probabilities), as its task gives them."""
    columns: dict[str, Any] = {}
    for feature in preprocessing.outputs:
        columns.update(task_of(feature).predictions(feature, outputs))
    return pd.DataFrame(columns)
