"""Sampled ranking metrics (the NCF protocol), computed only when `evaluation.sampled` asks.

Each held-out (user, item) pair is ranked among `negatives` distinct items drawn uniformly
(seeded) from the items its user has not interacted with anywhere in the data. With r its
1-based rank among the 1 + negatives candidates (a tie counts against the positive):
  sampled_hr_at_K   = 1 if r <= K else 0
  sampled_ndcg_at_K = 1 / log2(r + 1) if r <= K else 0
averaged over the held-out pairs, and `sampled_protocol` says "sampled: 1 positive + N
negatives". They are written beside the full-ranking metrics, never instead: sampled
metrics are far higher and can even order models differently (Krichene and Rendle, "On
Sampled Metrics for Item Recommendation", KDD 2020), so compare them only with numbers
measured the same way (as NCF's papers report them).

Vectorised: the negatives of a chunk of pairs are drawn as one (P, negatives) array and the
drawn items the user knows, or drawn twice in a row, are redrawn until none is left (each
round checks only the rows redrawn); the chunk is scored in one forward call of the network
on (P, 1 + negatives) pairs, P x (1 + negatives) at most PAIR_BUDGET.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from modelyard.errors import UserError

# The most (pair, candidate) scores computed at once: the forward call gathers a vector per
# candidate (with dim 32, 128 MB of float32 per side), and the draw holds a few int64 copies.
PAIR_BUDGET = 2**20


def sampled_protocol(negatives: int) -> str:
    return f"sampled: 1 positive + {negatives} negatives"


def sampled_if_asked(
    settings, network, held, known: tuple[np.ndarray, np.ndarray]
) -> dict[str, float | str]:
    """`settings`: the config's `evaluation` section; {} unless it sets `sampled`. held: the
    held-out Interactions; known: (users, items) codes of every pair the users interacted
    with; the network's parameters say the device."""
    if settings.sampled is None:
        return {}
    return sampled_metrics(
        network,
        held.users,
        held.items,
        known,
        len(held.item_ids),
        settings.k,
        settings.sampled.negatives,
        settings.sampled.seed,
        next(network.parameters()).device,
    )


def sampled_metrics(
    network,
    users: np.ndarray,
    items: np.ndarray,
    known: tuple[np.ndarray, np.ndarray],
    n_items: int,
    ks: Sequence[int],
    negatives: int,
    seed: int,
    device: torch.device,
) -> dict[str, float | str]:
    """users, items (P,): the held-out pairs; known: (users, items) codes of every pair
    the users interacted with (the held-out ones included), never drawn as negatives;
    `network(users, items)` with (P, C) int64 codes -> (P, C) scores."""
    known_keys = _distinct(known[0] * n_items + known[1])
    _check_enough_items(users, known_keys // n_items, n_items, negatives)  # as check_negatives
    known_keys = pd.Index(known_keys)  # a hash table: membership 3x faster than searchsorted
    rng = np.random.default_rng(seed)
    ranks = []
    chunk = max(1, PAIR_BUDGET // (1 + negatives))
    for start in range(0, len(users), chunk):
        part_users, part_items = users[start : start + chunk], items[start : start + chunk]
        drawn = draw_negatives(part_users, known_keys, n_items, negatives, rng)
        candidates = np.concatenate([part_items[:, None], drawn], axis=1)  # (P, 1 + negatives)
        ranks.append(_positive_ranks(network, part_users, candidates, device))
    return _from_ranks(np.concatenate(ranks), ks, negatives)


def check_negatives(settings, found, held: np.ndarray) -> None:
    """Before training (and in `modelyard validate`): with evaluation.sampled, every user of
    the held-out rows `held` of `found` (Interactions) must have `negatives` items it never
    interacted with; else a UserError naming one, rather than one after the first epoch."""
    if settings.sampled is None or not len(held):
        return
    n_items = len(found.item_ids)
    known_users = _distinct(found.users * n_items + found.items) // n_items
    _check_enough_items(
        found.users[held], known_users, n_items, settings.sampled.negatives, found.user_ids
    )


def _check_enough_items(
    users: np.ndarray,
    known_users: np.ndarray,
    n_items: int,
    negatives: int,
    user_ids: np.ndarray | None = None,
) -> None:
    """users (P,): codes of the held-out pairs' users; known_users: the user code of each
    distinct known pair."""
    if not len(users):
        return
    counts = np.bincount(known_users, minlength=int(users.max()) + 1)
    free = n_items - counts[users]
    if free.min() < negatives:
        worst = int(users[free.argmin()])
        who = f"user {str(user_ids[worst])!r}" if user_ids is not None else "a user"
        raise UserError(
            f"evaluation.sampled.negatives: {negatives}, but {who} has only {int(free.min())} "
            "items they have not interacted with; lower negatives (or leave evaluation.sampled "
            "out and use the full-ranking metrics)"
        )


def _distinct(keys: np.ndarray) -> np.ndarray:
    """The distinct values of `keys`, sorted (np.unique, without its slower hash path)."""
    ordered = np.sort(keys)
    return ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])] if len(keys) else keys


def draw_negatives(
    users: np.ndarray,
    known_keys: np.ndarray | pd.Index,
    n_items: int,
    negatives: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """(P, negatives) int64: per row, distinct items uniformly drawn among those user
    users[r] is not in `known_keys` with (distinct user * n_items + item)."""
    known_keys = pd.Index(known_keys)
    drawn = rng.integers(n_items, size=(len(users), negatives))
    rows = np.arange(len(users))  # the rows still to check: after a round, only redrawn ones
    while len(rows):
        bad = _unusable(users[rows], drawn[rows], known_keys, n_items)
        redrawn = bad.any(axis=1)
        rows, bad = rows[redrawn], bad[redrawn]
        part = drawn[rows]
        part[bad] = rng.integers(n_items, size=int(bad.sum()))
        drawn[rows] = part
    return drawn


def _unusable(users: np.ndarray, drawn: np.ndarray, known_keys: pd.Index, n_items: int):
    """(P, negatives) bool: drawn items the user knows, and repeats of an earlier one in a row."""
    keys = users[:, None] * n_items + drawn
    bad = (known_keys.get_indexer(keys.ravel()) >= 0).reshape(keys.shape)
    order = np.argsort(drawn, axis=1, kind="stable")
    ordered = np.take_along_axis(drawn, order, axis=1)
    repeat = np.zeros_like(bad)
    repeat[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    np.put_along_axis(bad, order, np.take_along_axis(bad, order, axis=1) | repeat, axis=1)
    return bad


def _positive_ranks(
    network, users: np.ndarray, candidates: np.ndarray, device: torch.device
) -> np.ndarray:
    """candidates (P, C), the positive first -> (P,) its 1-based rank (ties against it)."""
    items = torch.as_tensor(candidates, device=device)
    who = torch.as_tensor(users, device=device)[:, None].expand_as(items)
    with torch.no_grad():
        scores = network(who, items).float()  # (P, C)
    return ((scores[:, 1:] >= scores[:, :1]).sum(1) + 1).cpu().numpy()


def _from_ranks(ranks: np.ndarray, ks: Sequence[int], negatives: int) -> dict[str, float | str]:
    found: dict[str, float | str] = {}
    for k in sorted(set(ks)):
        hit = ranks <= k
        found[f"sampled_hr_at_{k}"] = float(hit.mean()) if len(ranks) else 0.0
        gain = np.where(hit, 1.0 / np.log2(ranks + 1.0), 0.0)
        found[f"sampled_ndcg_at_{k}"] = float(gain.mean()) if len(ranks) else 0.0
    found["sampled_protocol"] = sampled_protocol(negatives)
    return found
