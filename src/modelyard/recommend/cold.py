"""Cold-start evaluation (`split.by: cold_items`) and the popularity baseline.

Protocol: a cold split's held-out items never appear in training, and every interaction of
them is in that split. Each evaluated user ranks ALL the split's held-out items (validation:
the validation items; test: the test items), and only those: the warm catalogue is not a
candidate (ranking it too would measure how well a model keeps known items below new ones,
not how well it tells new items apart). No candidate is excluded: the user cannot have
interacted with a cold item elsewhere. Metrics as in metrics.py over that candidate set;
`coverage` is the share of the candidates shown in anyone's top K.

Popularity baselines on a cold split: a cold item has no training interactions, so the
deployable baseline, popularity in training, gives every candidate zero and ranks them in a
random order per user (seeded: chance level). Its upper reference, `oracle`, counts for each user how
many OTHER users interacted with each candidate in the evaluated split itself: it knows the
new items' future popularity (the user's own interactions are left out of its counts, or it
would find them by construction), which no deployable model has. On warm splits, popularity
= the number of training interactions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

COLD_PROTOCOL = "cold items: full ranking over the split's held-out items only, none excluded"
POPULARITY = {
    False: "popularity in the training interactions (ties in a random order per user)",
    True: "popularity among the other users' interactions of the evaluated split (oracle)",
}


def cold_ranking(
    score_all: Callable[[torch.Tensor], torch.Tensor],
    users: np.ndarray,
    items: np.ndarray,
    n_users: int,
    ks: Sequence[int],
    chunk: int,
    device: torch.device,
) -> dict[str, float]:
    """Ranking metrics of the held-out (users, items) (N,) each, ranked among the distinct
    held-out items only; `score_all`: (U,) user codes -> (U, catalogue) scores."""
    from modelyard.recommend.metrics import UserItems, ranking_metrics

    candidates = np.unique(items)
    position = np.searchsorted(candidates, items)  # each target's index among the candidates
    on = torch.as_tensor(candidates, device=device)

    def restricted(part: torch.Tensor) -> torch.Tensor:
        return score_all(part)[:, on]  # (U, candidates)

    empty = np.zeros(0, dtype=np.int64)
    return ranking_metrics(
        restricted,
        len(candidates),
        UserItems(users, position, n_users),
        UserItems(empty, empty, n_users),
        np.unique(users),
        ks,
        chunk,
        device,
    )


def popularity_scores(
    counts: np.ndarray, own: tuple[np.ndarray, np.ndarray], n_users: int, seed: int = 0
) -> Callable[[torch.Tensor], torch.Tensor]:
    """score_all of the popularity baseline: `counts` (items,) interactions per item, less the
    user's own among them (`own`: (users, items) pairs counted in `counts`, or empty); ties
    broken at random per user (seeded; not by code, which would favour low codes)."""
    from modelyard.recommend.metrics import UserItems

    base = torch.as_tensor(counts, dtype=torch.float64)
    mine = UserItems(*own, n_users)
    generator = torch.Generator().manual_seed(seed)

    def score_all(part: torch.Tensor) -> torch.Tensor:
        jitter = torch.rand((len(part), len(base)), generator=generator, dtype=torch.float64)
        scores = base[None, :] + 0.5 * jitter
        rows, items = mine.of(part.cpu().numpy())
        scores[torch.as_tensor(rows), torch.as_tensor(items)] -= 1.0
        return scores.float().to(part.device)

    return score_all


def popularity_baseline(
    users: np.ndarray,
    items: np.ndarray,
    rows: dict[str, np.ndarray],
    split: str,
    cold: bool,
    n_users: int,
    n_items: int,
    ks: Sequence[int],
    oracle: bool = False,
) -> dict:
    """The popularity baseline's metrics on `split` of the interactions (users, items) (N,)
    split by `rows` ({split: row indices}), under the protocol the model is measured by: cold
    splits as `cold_ranking`, warm ones over the full catalogue with known items excluded.
    Counts of the training interactions, or with `oracle` (cold splits) of the other users'
    interactions in `split` itself."""
    from modelyard.recommend.metrics import PROTOCOL, UserItems, ranking_metrics

    held, train = rows[split], rows["train"]
    device = torch.device("cpu")
    counted = held if oracle else train
    counts = np.bincount(items[counted], minlength=n_items).astype(np.float64)
    if cold:
        own = (users[held], items[held]) if oracle else (_EMPTY, _EMPTY)
        score = popularity_scores(counts, own, n_users)
        found = cold_ranking(score, users[held], items[held], n_users, ks, 1024, device)
        return {**found, "protocol": COLD_PROTOCOL, "baseline": POPULARITY[oracle]}
    before = ["train"] if split == "validation" else ["train", "validation"]
    known = np.concatenate([rows[s] for s in before])
    found = ranking_metrics(
        popularity_scores(counts, (_EMPTY, _EMPTY), n_users),
        n_items,
        UserItems(users[held], items[held], n_users),
        UserItems(users[known], items[known], n_users),
        np.unique(users[held]),
        ks,
        1024,
        device,
    )
    return {**found, "protocol": PROTOCOL, "baseline": POPULARITY[False]}


_EMPTY = np.zeros(0, dtype=np.int64)
