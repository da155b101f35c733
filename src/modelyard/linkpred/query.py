"""Applying a trained link predictor: (h, r, ?) and (?, r, t) queries -> top-K entities, and
`modelyard evaluate` on a triples file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from modelyard.errors import UserError

MISSING = {"", "?"}


def _missing(column: pd.Series) -> np.ndarray:
    text = column.astype(object).where(column.notna(), "").astype(str).str.strip()
    return text.isin(MISSING).to_numpy()


def encode_queries(model, asked: pd.DataFrame) -> dict[str, np.ndarray]:
    """A frame of head, relation, tail names (head or tail missing) -> {anchor, relation,
    side (the network's query, the inverse relation for a head with inverse_relations),
    row (positions in `asked`)}."""
    for column in ("head", "relation", "tail"):
        if column not in asked.columns:
            raise UserError(f"queries: no '{column}' column; give head, relation and tail")
    no_head, no_tail = _missing(asked["head"]), _missing(asked["tail"])
    bad = (no_head == no_tail) | _missing(asked["relation"])
    if bad.any():
        raise UserError(
            f"query {int(np.flatnonzero(bad)[0]) + 1}: give a relation and exactly one of head "
            f"and tail (the missing one empty or '?'); {int(bad.sum())} such queries"
        )
    anchor_names = np.where(no_tail, asked["head"].astype(str), asked["tail"].astype(str))
    anchors = _codes(model.entity_ids, anchor_names, "entity", "entities")
    relations = _codes(
        model.relation_ids, asked["relation"].astype(str).to_numpy(), "relation", "relations"
    )
    side = no_head.astype(np.int64)  # 1: the head is asked for
    if model.config.training.inverse_relations:
        relations = relations + side * len(model.relation_ids)
        side = np.zeros_like(side)
    return {"anchor": anchors, "relation": relations, "side": side, "head_asked": no_head}


def _codes(known: np.ndarray, names: np.ndarray, kind: str, plural: str) -> np.ndarray:
    names = np.asarray([str(n).strip() for n in names], dtype=object)
    codes = pd.Index(known).get_indexer(pd.Index(names.astype(str)))
    unknown = list(dict.fromkeys(names[codes < 0]))
    if unknown:
        shown = ", ".join(repr(n) for n in unknown[:5])
        raise UserError(
            f"unknown {kind}{'s' if len(unknown) > 1 else ''} {shown}{', ...' if len(unknown) > 5 else ''}: "
            f"this model knows the {len(known)} {plural} of its training triples"
        )
    return codes.astype(np.int64)


def top_entities(model, asked: dict[str, np.ndarray], k: int, exclude_known: bool):
    """The top `k` entities per query, chunked (linkpred.metrics.chunk_rows)."""
    from modelyard.linkpred.metrics import chunk_rows

    known = model._known_answers()
    step = chunk_rows(model.config.evaluation.query_chunk, len(model.entity_ids))
    frames = []
    with torch.no_grad():
        for start in range(0, len(asked["anchor"]), step):
            part = {key: value[start : start + step] for key, value in asked.items()}
            frames.append(_top_chunk(model, part, known, k, exclude_known, start))
    return pd.concat(frames, ignore_index=True)


def _top_chunk(model, part, known, k: int, exclude_known: bool, offset: int) -> pd.DataFrame:
    query = (part["anchor"], part["relation"], part["side"])
    scores = model.module(*(torch.as_tensor(x) for x in query)).float()  # (C, E)
    rows, answers = known.of(*query)
    is_known = torch.zeros_like(scores, dtype=torch.bool)
    is_known[torch.as_tensor(rows), torch.as_tensor(answers)] = True
    if exclude_known:
        scores = scores.masked_fill(is_known, -torch.inf)
    top = scores.topk(min(k, scores.shape[1]), dim=1)
    keep = torch.isfinite(top.values)
    row = torch.arange(len(scores))[:, None].expand_as(top.indices)[keep].numpy()
    rank = torch.arange(1, top.indices.shape[1] + 1).expand_as(top.indices)[keep].numpy()
    found = model.entity_ids[top.indices[keep].numpy()]
    anchor = model.entity_ids[part["anchor"][row]]
    relation = model.relation_ids[part["relation"][row] % len(model.relation_ids)]
    head_asked = part["head_asked"][row]
    return pd.DataFrame(
        {
            "query": row + offset + 1,
            "head": np.where(head_asked, found, anchor),
            "relation": relation,
            "tail": np.where(head_asked, anchor, found),
            "predicted": np.where(head_asked, "head", "tail"),
            "rank": rank,
            "score": top.values[keep].numpy(),
            "known": is_known.gather(1, top.indices)[keep].numpy(),
        }
    )


def read_queries(model, data: Any) -> pd.DataFrame:
    """Queries from a DataFrame (head, relation, tail) or a file read as the training
    triples were (data.columns, header, separator), the missing entity empty or '?'."""
    if isinstance(data, pd.DataFrame):
        return data
    from modelyard.linkpred.data import read_triples

    return read_triples(Path(data), model.config.data, allow_empty=True)


def evaluate_triples(model, data: Any) -> dict[str, Any]:
    """Filtered ranking of `data`'s triples (a file or a DataFrame of head, relation, tail)."""
    from modelyard.linkpred.data import codes_of, read_triples
    from modelyard.linkpred.metrics import PROTOCOL, TIE_RULE, filtered_ranks, summarize
    from modelyard.linkpred.objectives import queries

    if isinstance(data, pd.DataFrame):
        frame, source = data, "the DataFrame given to evaluate"
    else:
        frame, source = read_triples(Path(data), model.config.data), str(data)
    codes = codes_of(model, frame)
    usable = (codes >= 0).all(1)
    if not usable.any():
        raise UserError(
            f"{source}: none of its {len(codes)} triples has only entities and relations this model knows"
        )
    triples = codes[usable]
    inverse = model.config.training.inverse_relations
    asked = queries(triples, len(model.relation_ids), inverse)
    known = model._known_answers(triples)
    chunk = model.config.evaluation.query_chunk
    with torch.no_grad():
        ranks = filtered_ranks(model.module, asked, known, chunk, torch.device("cpu"))
    found: dict[str, Any] = summarize(ranks)
    found.update(rows=int(usable.sum()), queries=len(ranks), protocol=PROTOCOL, tie_rule=TIE_RULE)
    if not usable.all():
        found["rows_left_out"] = {"entity or relation not in training": int((~usable).sum())}
    return found
