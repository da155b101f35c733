"""The data summary of a run (data_summary.json, and the report's Data section): rows per
split and those left out, each classification output's class balance per split, and the
missing input values filled in. Counted from what preparing the splits already found (the
label tensors, `Table.left_out`, `Table.filled`): no second pass over the data."""

from __future__ import annotations

from typing import Any

import torch

from modelyard.data.features import Preprocessing, Table

SPLITS = ("train", "validation", "test")
UNSEEN = "(classes not in training)"  # class balance: labels of classes never seen in training
STREAMED_NOTE = (
    "the training rows were streamed: their class balance and filled values are not counted"
)


def data_summary(
    preprocessing: Preprocessing, tables: dict[str, Table], streamed: dict[str, Any] | None = None
) -> dict[str, Any]:
    """{"splits": {split: {"rows", "left_out"?: {reason: rows}}}, "classes": {output: {split:
    {class: rows}}}, "filled": {column: {"with", "value", "rows": {split: rows}}}, "note"?}.

    `tables`: the prepared splits (any of train, validation, test); `streamed`: for training
    rows that were streamed, {"rows": kept, "left_out": {reason: rows}} (their classes and
    filled values are not counted)."""
    ordered = {name: tables[name] for name in SPLITS if name in tables}
    splits = {name: _rows(len(t), t.left_out) for name, t in ordered.items()}
    found: dict[str, Any] = {"splits": splits, "classes": _classes(preprocessing, ordered)}
    found["filled"] = _filled(ordered)
    if streamed is not None:
        splits["train"] = _rows(streamed["rows"], streamed.get("left_out") or {})
        found["splits"] = {name: splits[name] for name in SPLITS if name in splits}
        found["note"] = STREAMED_NOTE
    return found


def _rows(count: int, left_out: dict[str, int]) -> dict[str, Any]:
    return {"rows": int(count), **({"left_out": dict(left_out)} if left_out else {})}


def _classes(preprocessing: Preprocessing, tables: dict[str, Table]) -> dict[str, Any]:
    """{output: {split: {class: rows}}} for the outputs whose task has classes."""
    from modelyard.tasks import task_of

    found: dict[str, Any] = {}
    for feature in preprocessing.outputs:
        task = task_of(feature)
        if task.classes(feature) is None:
            continue
        found[feature.name] = {
            split: class_counts(task, feature, table.tensors[feature.name])
            for split, table in tables.items()
            if feature.name in table.tensors
        }
    return found


def class_counts(task, feature, target: torch.Tensor) -> dict[str, int]:
    """{class: labelled rows} in the task's class order, then `UNSEEN` where labels of
    classes never seen in training occur. target: (N,) the output's label tensor."""
    classes = task.classes(feature)
    labelled, seen = task.labelled(feature, target), task.seen(feature, target)
    labelled = torch.ones(len(target), dtype=torch.bool) if labelled is None else labelled
    seen = labelled if seen is None else seen
    counts = torch.bincount(target[seen].long(), minlength=len(classes)).tolist()
    found = dict(zip(classes, counts, strict=True))
    unseen = int(labelled.sum()) - int(seen.sum())
    if unseen:
        found[UNSEEN] = unseen
    return found


def _filled(tables: dict[str, Table]) -> dict[str, Any]:
    """{column: {"with", "value", "rows": {split: rows filled}}}, columns in first-seen order."""
    found: dict[str, Any] = {}
    for split, table in tables.items():
        for column, record in table.filled.items():
            entry = found.setdefault(
                column, {"with": record["with"], "value": record["value"], "rows": {}}
            )
            entry["rows"][split] = record["rows"]
    return found
