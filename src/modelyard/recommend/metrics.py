"""Recommendation metrics: rating errors, and FULL-ranking top-K metrics computed in chunks
of users (memory: chunk x items scores), every item ranked, the user's known items excluded.

Per evaluated user (one with at least one held-out item), with T its held-out items and
top_K its K best-scored items that are not excluded:
  recall_at_K = |top_K & T| / |T|
  hr_at_K     = 1 if top_K & T else 0
  ndcg_at_K   = sum over hits at rank r (1-based) of 1/log2(r + 1), divided by the same sum
                for the best possible ranking (min(|T|, K) hits at ranks 1, 2, ...)
  mrr         = 1 / rank of the best-ranked held-out item in the whole catalogue (not cut at K;
                items tied with it: the realistic rank, the mean of the best and worst ranks)
and `coverage` = the share of the catalogue in anyone's top-K at the largest K.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

PROTOCOL = "full ranking, seen items excluded"
# The most scores held at once (float32: 128 MB, plus a mask and a copy for mrr): a chunk of
# users is cut smaller than `user_chunk` when the catalogue is large.
SCORE_BUDGET = 2**25


def chunk_rows(chunk: int, n_items: int) -> int:
    """Users per chunk: at most `chunk`, and at most SCORE_BUDGET scores (at least 1 user)."""
    return max(1, min(chunk, SCORE_BUDGET // max(n_items, 1)))


def rating_metrics(predicted: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """predicted, target (N,) -> {"mse", "rmse", "mae"}."""
    error = predicted.astype(np.float64) - target.astype(np.float64)
    mse = float(np.mean(error**2))
    return {"mse": mse, "rmse": mse**0.5, "mae": float(np.mean(np.abs(error)))}


class UserItems:
    """(user, item) pairs grouped by user (CSR): the items of any set of users, vectorised."""

    def __init__(self, users: np.ndarray, items: np.ndarray, n_users: int):
        order = np.argsort(users, kind="stable")
        self.items = items[order]
        self.indptr = np.zeros(n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(users, minlength=n_users), out=self.indptr[1:])

    def of(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, items): for each pair of `users[r]`, r (its position in `users`) and the item."""
        starts = self.indptr[users]
        counts = self.indptr[users + 1] - starts
        rows = np.repeat(np.arange(len(users)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return rows, self.items[np.repeat(starts, counts) + offsets]


def ranking_metrics(
    score_all: Callable[[torch.Tensor], torch.Tensor],
    n_items: int,
    targets: UserItems,
    excluded: UserItems,
    users: np.ndarray,
    ks: Sequence[int],
    chunk: int,
    device: torch.device,
) -> dict[str, float]:
    """Mean recall/ndcg/hr at each K, mrr and coverage over `users` (each with a held-out
    item in `targets`); `score_all`: (U,) user codes on `device` -> (U, n_items) scores."""
    ks = sorted(set(ks))
    top_k = min(max(ks), n_items)
    sums: dict[str, float] = {}
    shown = torch.zeros(n_items, dtype=torch.bool, device=device)
    chunk = chunk_rows(chunk, n_items)
    for start in range(0, len(users), chunk):
        part = users[start : start + chunk]
        scores = score_all(torch.as_tensor(part, device=device)).float()
        rows, items = excluded.of(part)
        scores[
            torch.as_tensor(rows, device=device), torch.as_tensor(items, device=device)
        ] = -torch.inf
        rows, items = targets.of(part)
        held = (torch.as_tensor(rows, device=device), torch.as_tensor(items, device=device))
        top = scores.topk(top_k, dim=1).indices  # (U, top_k)
        shown[top[torch.isfinite(scores.gather(1, top))]] = True
        for name, values in _chunk_metrics(scores, held, top, ks).items():
            sums[name] = sums.get(name, 0.0) + float(values.sum())
    found = {name: total / max(len(users), 1) for name, total in sums.items()}
    found["coverage"] = float(shown.float().mean())
    return found


def _chunk_metrics(
    scores: torch.Tensor,
    held: tuple[torch.Tensor, torch.Tensor],
    top: torch.Tensor,
    ks: Sequence[int],
) -> dict[str, torch.Tensor]:
    """scores (U, I) with excluded items at -inf; held: (rows, items) (H,) each, the held-out
    pairs; top (U, K) indices -> {metric: (U,) per-user values}."""
    rows, items = held
    relevant = torch.zeros_like(scores, dtype=torch.bool)
    relevant[rows, items] = True
    hits = relevant.gather(1, top).float()  # (U, K)
    count = torch.bincount(rows, minlength=len(scores))  # (U,) held-out items per user
    discount = 1.0 / torch.log2(torch.arange(2, top.shape[1] + 2, device=scores.device))
    found = {}
    for k in ks:
        k_hits = hits[:, :k]
        ideal = torch.cumsum(discount, 0)[(count.clamp(max=k) - 1).clamp(max=top.shape[1] - 1)]
        found[f"recall_at_{k}"] = k_hits.sum(1) / count
        found[f"ndcg_at_{k}"] = (k_hits * discount[:k]).sum(1) / ideal
        found[f"hr_at_{k}"] = (k_hits.sum(1) > 0).float()
    best = torch.full((len(scores),), -torch.inf, device=scores.device)
    best = best.scatter_reduce(0, rows, scores[rows, items], "amax")  # (U,)
    above = (scores > best[:, None]).sum(1)
    tied = (scores == best[:, None]).sum(1)  # the best held-out item and its ties
    found["mrr"] = 1.0 / (above + (tied + 1) / 2).float()  # the realistic rank
    return found
