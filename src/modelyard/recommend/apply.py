"""Using a trained recommendation run beyond top-K per known user: predictions for given
(user, item) pairs (`modelyard predict`), similar items (`recommend --similar-to`) and the
popularity fallback for unknown users (`recommend --fallback popular`). The Recommender's
methods of the same names call these."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from modelyard.errors import UserError
from modelyard.train.progress import log

FALLBACKS = ("popular",)
UNKNOWN = ("error", "skip")


# ------------------------------------------------------------ predict: (user, item) pairs


def predict_pairs(
    model, data: Any, include_inputs: bool = False, unknown: str = "error"
) -> pd.DataFrame:
    """One row per (user, item) row of `data` (a table file or DataFrame with the training's
    user and item columns): those two columns (all columns with `include_inputs`) and
    `rating_prediction` (objective ratings; clipped to data.rating_scale when set) or `score`
    (objective ranking: the network's score, higher is better). Rows of a user or item the
    model does not know: a UserError saying how many (`unknown="error"`), or left out with a
    note (`unknown="skip"`)."""
    if unknown not in UNKNOWN:
        raise UserError(f"--unknown {unknown}: use one of {', '.join(UNKNOWN)}")
    settings = model.config.data
    frame, source = _read(data, settings)
    users, items = _codes(model, frame, source)
    known = (users >= 0) & (items >= 0)
    if not known.all():
        _unknown_pairs(frame, settings, users, items, source, unknown)
    rows = np.flatnonzero(known)
    given = frame if include_inputs else frame[[settings.user, settings.item]]
    result = given.iloc[rows].reset_index(drop=True)
    name = "score" if model.ranking else "rating_prediction"
    result[name] = _scores(model, users[rows], items[rows])
    return result


def _read(data: Any, settings) -> tuple[pd.DataFrame, str]:
    if isinstance(data, pd.DataFrame):
        return data, "the DataFrame given to predict"
    from modelyard.config.schema import Data
    from modelyard.data.read import read_table

    path = Path(data)
    frame = read_table(path, Data(separator=settings.separator, encoding=settings.encoding))
    return frame, str(path)


def _codes(model, frame: pd.DataFrame, source: str) -> tuple[np.ndarray, np.ndarray]:
    """(N,) user and item codes of the rows (-1: unknown); ids compared as text."""
    from modelyard.recommend.data import _id_column

    settings = model.config.data
    users = _id_column(frame, settings.user, source, "data.user").astype(str)
    items = _id_column(frame, settings.item, source, "data.item").astype(str)
    return (
        pd.Index(model.user_ids).get_indexer(users),
        pd.Index(model.item_ids).get_indexer(items),
    )


def _unknown_pairs(frame, settings, users, items, source: str, unknown: str) -> None:
    bad = np.flatnonzero((users < 0) | (items < 0))
    examples = []
    for row in bad[:3]:
        if users[row] < 0:
            examples.append(f"row {row + 1}: user {str(frame[settings.user].iloc[row])!r}")
        else:
            examples.append(f"row {row + 1}: item {str(frame[settings.item].iloc[row])!r}")
    what = (
        f"{source}: {len(bad)} of {len(frame)} rows have a user or item this model does not "
        f"know ({'; '.join(examples)}{'; ...' if len(bad) > 3 else ''})"
    )
    if unknown == "error":
        raise UserError(
            f"{what}; it knows the users and items of its training data: remove those rows, "
            "or leave them out with --unknown skip (in Python: unknown='skip')"
        )
    log(f"note: {what}; left out (--unknown skip)")


@torch.no_grad()
def _scores(model, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """(N,) float32 scores of the pairs, in batches; ratings clipped to data.rating_scale."""
    size = model.config.trainer.eval_batch_size
    parts = [
        model.module(
            torch.from_numpy(users[start : start + size]),
            torch.from_numpy(items[start : start + size]),
        ).float()
        for start in range(0, len(users), size)
    ]
    scores = torch.cat(parts).numpy() if parts else np.zeros(0, dtype=np.float32)
    scale = model.config.data.rating_scale
    if not model.ranking and scale is not None:
        scores = scores.clip(scale[0], scale[1])
    return scores


# ------------------------------------------------------------ similar items


def similar_items(model, items: list[str], k: int = 10) -> pd.DataFrame:
    """The `k` items nearest each item id in `items` by cosine similarity of the network's
    item vectors (`item_vectors()`: (items, D)), the item itself left out: a DataFrame of
    item, rank (1 = most similar), similar_item, similarity. Unknown ids: a UserError."""
    if k < 1:
        raise UserError(f"--k {k}: give 1 or more similar items")
    from modelyard.recommend.metrics import chunk_rows

    vectors = item_vectors(model, "find similar items")
    codes = pd.Index(model.item_ids).get_indexer(pd.Index(items, dtype=str))
    _refuse_unknown(items, codes, "items", len(model.item_ids))
    vectors = torch.nn.functional.normalize(vectors, dim=1)  # (I, D)
    frames = []
    chunk = chunk_rows(model.config.evaluation.user_chunk, len(model.item_ids))
    for start in range(0, len(codes), chunk):
        frames.append(_nearest(model, vectors, codes[start : start + chunk], k))
    return pd.concat(frames, ignore_index=True)


def item_vectors(model, purpose: str) -> torch.Tensor:
    """(items, D) float vectors of every item in code order, from the network's
    `item_vectors()`; a UserError naming `purpose` for networks without them."""
    vectors_of = getattr(model.module, "item_vectors", None)
    if vectors_of is None:
        raise UserError(
            f"model.type {model.config.model.type} gives no item vectors, so it cannot {purpose}"
        )
    with torch.no_grad():
        return vectors_of().detach().float()


def _nearest(model, vectors: torch.Tensor, part: np.ndarray, k: int) -> pd.DataFrame:
    """vectors (I, D) unit rows; part (Q,) item codes -> their k nearest other items."""
    query = torch.as_tensor(part)
    similarity = vectors[query] @ vectors.T  # (Q, I)
    similarity[torch.arange(len(part)), query] = -torch.inf
    top = similarity.topk(min(k, vectors.shape[0] - 1), dim=1)
    rows = np.repeat(np.arange(len(part)), top.indices.shape[1])
    return pd.DataFrame(
        {
            "item": model.item_ids[part[rows]],
            "rank": np.tile(np.arange(1, top.indices.shape[1] + 1), len(part)),
            "similar_item": model.item_ids[top.indices.reshape(-1).numpy()],
            "similarity": top.values.reshape(-1).numpy(),
        }
    )


def _refuse_unknown(given: list[str], codes: np.ndarray, what: str, known: int) -> None:
    unknown = [g for g, c in zip(given, codes, strict=True) if c < 0]
    if unknown:
        shown = ", ".join(repr(str(u)) for u in unknown[:5])
        raise UserError(
            f"{len(unknown)} of {len(given)} {what} are unknown to this model ({shown}"
            f"{', ...' if len(unknown) > 5 else ''}); it knows the {known} {what} of its "
            "training data"
        )


# ------------------------------------------------------------ popularity fallback


def recommend_with_fallback(
    model, users: list[str], k: int, include_seen: bool, fallback: str
) -> pd.DataFrame:
    """As Recommender.recommend, with `source` = model or popular: unknown users get the
    `k` items with the most interactions in the run's data (their `score` left empty),
    and a note says how many did."""
    if fallback not in FALLBACKS:
        raise UserError(f"--fallback {fallback}: use one of {', '.join(FALLBACKS)}")
    if k < 1:
        raise UserError(f"--k {k}: give 1 or more items to recommend")
    users = [str(u) for u in users]
    known = pd.Index(model.user_ids).get_indexer(pd.Index(users, dtype=str)) >= 0
    parts = []
    if known.any():
        mine = model.recommend(
            [u for u, ok in zip(users, known, strict=True) if ok], k, include_seen
        )
        parts.append(mine.assign(source="model"))
    strangers = [u for u, ok in zip(users, known, strict=True) if not ok]
    if strangers:
        parts.append(_popular_rows(model, strangers, k, include_seen))
        log(
            f"note: {len(strangers)} of {len(users)} users are unknown to this model; they got "
            f"the {k} most popular items (--fallback popular; source column 'popular')"
        )
    table = pd.concat(parts, ignore_index=True)
    order = {u: i for i, u in reversed(list(enumerate(users)))}  # first position of each id
    table["_order"] = table["user"].map(order)
    table = table.sort_values(["_order", "rank"], kind="stable").drop(columns="_order")
    return table.reset_index(drop=True)


def popular_items(model, k: int) -> np.ndarray:
    """(min(k, items),) item codes by their number of interactions in the run's data, most
    first (ties: the item seen first)."""
    counts = np.bincount(model.seen[1], minlength=len(model.item_ids))
    return np.argsort(-counts, kind="stable")[:k]


def _popular_rows(model, users: list[str], k: int, include_seen: bool) -> pd.DataFrame:
    top = popular_items(model, k)
    return pd.DataFrame(
        {
            "user": np.repeat(np.asarray(users, dtype=object), len(top)),
            "rank": np.tile(np.arange(1, len(top) + 1), len(users)),
            "item": np.tile(model.item_ids[top], len(users)),
            "score": np.nan,
            "seen_excluded": not include_seen,
            "source": "popular",
        }
    )
