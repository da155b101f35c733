"""Filtered ranking metrics of link prediction, computed in chunks of queries (memory: chunk x
entities scores).

Each evaluated triple (h, r, t) is asked twice: (h, r, ?) with answer t and (?, r, t) with
answer h. The answer's score is compared with every entity's, except the other answers known
to be true for that query in train, validation or test (the "filtered" setting of Bordes et
al. 2013). With g the entities scored higher and e those scored equal:
  optimistic rank  = g + 1
  pessimistic rank = g + e + 1
  realistic rank   = (optimistic + pessimistic) / 2   (the expected rank under random tie-breaking)
Over all 2N queries (head and tail prediction averaged): mrr = mean(1 / rank), hits_at_K =
share of ranks <= K, mean_rank = mean(rank), all of the realistic rank.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

PROTOCOL = "filtered ranking against all entities (known train/validation/test triples left out), head and tail prediction averaged"
TIE_RULE = "realistic: mean of the optimistic and pessimistic rank"
HITS = (1, 3, 10)
# The most scores held at once (float32: 128 MB, plus a mask).
SCORE_BUDGET = 2**25

ScoreAll = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def chunk_rows(chunk: int, n_entities: int) -> int:
    """Queries per chunk: at most `chunk`, and at most SCORE_BUDGET scores (at least 1)."""
    return max(1, min(chunk, SCORE_BUDGET // max(n_entities, 1)))


class KnownAnswers:
    """The true answers of every query (anchor, relation, side), grouped by query (sorted
    keys): the answers of any set of queries, vectorised. `queries`: {anchor, relation, side,
    answer} arrays (N,) (objectives.queries of the known triples)."""

    def __init__(self, queries: dict[str, np.ndarray], entities: int):
        self.entities = entities
        key = self.key(queries["anchor"], queries["relation"], queries["side"])
        order = np.lexsort((queries["answer"], key))
        self.keys, self.answers = key[order], queries["answer"][order]

    def key(self, anchor: np.ndarray, relation: np.ndarray, side: np.ndarray) -> np.ndarray:
        return (relation.astype(np.int64) * 2 + side) * self.entities + anchor

    def of(self, anchor, relation, side) -> tuple[np.ndarray, np.ndarray]:
        """(rows, answers): for each known answer of query `rows[i]` (its position in the
        arrays given), the answer."""
        keys = self.key(anchor, relation, side)
        starts = np.searchsorted(self.keys, keys, "left")
        counts = np.searchsorted(self.keys, keys, "right") - starts
        rows = np.repeat(np.arange(len(keys)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return rows, self.answers[np.repeat(starts, counts) + offsets]


def filtered_ranks(
    score_all: ScoreAll,
    queries: dict[str, np.ndarray],
    known: KnownAnswers,
    chunk: int,
    device: torch.device,
) -> np.ndarray:
    """Realistic filtered rank (N,) float64 of each query's answer; `score_all`: anchor,
    relation, side (C,) on `device` -> (C, E) scores."""
    n = len(queries["answer"])
    step = chunk_rows(chunk, known.entities)
    ranks = []
    for start in range(0, n, step):
        part = {k: v[start : start + step] for k, v in queries.items()}
        on = {k: torch.as_tensor(v, device=device) for k, v in part.items()}
        scores = score_all(on["anchor"], on["relation"], on["side"]).float()  # (C, E)
        ranks.append(_chunk_ranks(scores, on["answer"], known.of(*_query(part)), device))
    return np.concatenate(ranks) if ranks else np.zeros(0)


def _query(part: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return part["anchor"], part["relation"], part["side"]


def _chunk_ranks(
    scores: torch.Tensor,
    answer: torch.Tensor,
    filtered: tuple[np.ndarray, np.ndarray],
    device: torch.device,
) -> np.ndarray:
    """scores (C, E), answer (C,), filtered: (rows, entities) of the known answers (the
    query's own answer among them) -> realistic ranks (C,)."""
    target = scores.gather(1, answer[:, None])  # (C, 1)
    rows, entities = (torch.as_tensor(x, device=device) for x in filtered)
    scores[rows, entities] = -torch.inf  # the own answer too: it is not its own rival
    greater = (scores > target).sum(1)
    equal = (scores == target).sum(1)
    return (greater + 1 + equal / 2).double().cpu().numpy()


def summarize(ranks: np.ndarray) -> dict[str, float]:
    """Realistic ranks (N,) -> {mrr, hits_at_1, hits_at_3, hits_at_10, mean_rank}."""
    found = {"mrr": float(np.mean(1.0 / ranks))}
    found.update({f"hits_at_{k}": float(np.mean(ranks <= k)) for k in HITS})
    found["mean_rank"] = float(np.mean(ranks))
    return found


def per_relation(ranks: np.ndarray, relations: np.ndarray, names: np.ndarray):
    """A DataFrame: per relation (its name), the queries asked and their summary metrics."""
    import pandas as pd

    frame = pd.DataFrame({"relation": names[relations], "rank": ranks})
    rows = [
        {"relation": name, "queries": len(group), **summarize(group["rank"].to_numpy())}
        for name, group in frame.groupby("relation", sort=True)
    ]
    return pd.DataFrame(rows)
