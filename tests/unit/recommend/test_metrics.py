"""Full-ranking metrics against a brute-force reference written from their definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from modelyard.metrics import metric_mode
from modelyard.recommend.metrics import UserItems, ranking_metrics, rating_metrics


def _brute_force(scores, targets, excluded, users, ks):
    """Per user: sort the non-excluded items by score, then apply the definitions."""
    sums = {}
    shown = set()
    for u in users:
        allowed = [i for i in range(scores.shape[1]) if (u, i) not in excluded]
        ranked = sorted(allowed, key=lambda i: -scores[u, i])
        held = {i for (v, i) in targets if v == u}
        for k in ks:
            hits = [1.0 if i in held else 0.0 for i in ranked[:k]]
            ideal = sum(1 / math.log2(r + 2) for r in range(min(len(held), k)))
            values = {
                f"recall_at_{k}": sum(hits) / len(held),
                f"hr_at_{k}": float(sum(hits) > 0),
                f"ndcg_at_{k}": sum(h / math.log2(r + 2) for r, h in enumerate(hits)) / ideal,
            }
            for name, value in values.items():
                sums[name] = sums.get(name, 0.0) + value
        first = next(r for r, i in enumerate(ranked) if i in held)
        sums["mrr"] = sums.get("mrr", 0.0) + 1 / (first + 1)
        shown.update(ranked[: max(ks)])
    found = {name: total / len(users) for name, total in sums.items()}
    found["coverage"] = len(shown) / scores.shape[1]
    return found


def _pairs(rng, n_users, n_items, count):
    cells = rng.choice(n_users * n_items, size=count, replace=False)
    return cells // n_items, cells % n_items


@pytest.mark.parametrize("chunk", [1, 3, 100])
def test_ranking_metrics_match_brute_force(chunk):
    rng = np.random.default_rng(chunk)
    n_users, n_items = 12, 30
    scores = rng.normal(size=(n_users, n_items)).astype(np.float32)
    users, items = _pairs(rng, n_users, n_items, 150)
    held_u, held_i, seen_u, seen_i = users[:40], items[:40], users[40:], items[40:]
    eval_users = np.unique(held_u)
    table = torch.from_numpy(scores)
    found = ranking_metrics(
        lambda u: table[u],
        n_items,
        UserItems(held_u, held_i, n_users),
        UserItems(seen_u, seen_i, n_users),
        eval_users,
        [5, 10],
        chunk,
        torch.device("cpu"),
    )
    expected = _brute_force(
        scores,
        set(zip(held_u, held_i, strict=True)),
        set(zip(seen_u, seen_i, strict=True)),
        eval_users,
        [5, 10],
    )
    assert found.keys() == expected.keys()
    for name, value in expected.items():
        assert found[name] == pytest.approx(value, abs=1e-6), name


def test_excluded_items_are_never_recommended_even_when_they_score_best():
    scores = torch.tensor([[9.0, 8.0, 1.0, 0.0]])  # items 0 and 1 seen, item 2 held out
    found = ranking_metrics(
        lambda u: scores[u],
        4,
        UserItems(np.array([0]), np.array([2]), 1),
        UserItems(np.array([0, 0]), np.array([0, 1]), 1),
        np.array([0]),
        [1],
        8,
        torch.device("cpu"),
    )
    assert found["recall_at_1"] == found["mrr"] == 1.0
    assert found["coverage"] == 0.25


def test_user_items_gathers_each_users_items():
    pairs = UserItems(np.array([2, 0, 2, 1]), np.array([5, 6, 7, 8]), 4)
    rows, items = pairs.of(np.array([2, 3, 0]))
    assert rows.tolist() == [0, 0, 2] and items.tolist() == [5, 7, 6]


def test_rating_metrics():
    found = rating_metrics(np.array([1.0, 3.0]), np.array([2.0, 5.0]))
    assert found == pytest.approx({"mse": 2.5, "rmse": 2.5**0.5, "mae": 1.5})


@pytest.mark.parametrize("name", ["recall_at_10", "ndcg_at_5", "hr_at_20", "mrr", "coverage"])
def test_ranking_metrics_are_higher_is_better(name):
    assert metric_mode(name) == "max"


def test_chunks_shrink_so_a_large_catalogue_stays_within_the_score_budget():
    from modelyard.recommend.metrics import SCORE_BUDGET, chunk_rows

    assert chunk_rows(1024, 1000) == 1024
    assert chunk_rows(1024, 1_000_000) * 1_000_000 <= SCORE_BUDGET
    assert chunk_rows(1024, 10 * SCORE_BUDGET) == 1


def test_sampled_softmax_masks_a_repeated_item_and_matches_cross_entropy():
    from modelyard.recommend.networks import MatrixFactorization, softmax_objective

    torch.manual_seed(0)
    model = MatrixFactorization(5, 8, 4, biases=True)
    users, items = torch.tensor([0, 1, 2]), torch.tensor([3, 3, 5])  # item 3 twice
    generator = torch.Generator().manual_seed(1)
    loss = softmax_objective(0.0, 2, generator)(model, {"user": users, "item": items})
    drawn = torch.randint(8, (2,), generator=torch.Generator().manual_seed(1))
    candidates = torch.cat([items, drawn])
    logits = torch.stack([model(u.expand(5), candidates) for u in users])
    for row in range(3):  # another row's equal item is no negative; the row's own is the target
        for col in range(5):
            if candidates[col] == items[row] and col != row:
                logits[row, col] = -torch.inf
    expected = torch.nn.functional.cross_entropy(logits, torch.arange(3))
    torch.testing.assert_close(loss, expected)


def test_mrr_ranks_ties_realistically():
    # Every item scores the same (a constant model): the held-out item's rank is the mean of
    # the best (1) and the worst (the 8 items not excluded), 4.5, not the optimistic 1.
    n_items = 10
    found = ranking_metrics(
        lambda u: torch.zeros(len(u), n_items),
        n_items,
        UserItems(np.array([0]), np.array([3]), 1),
        UserItems(np.array([0, 0]), np.array([0, 1]), 1),
        np.array([0]),
        [5],
        8,
        torch.device("cpu"),
    )
    assert found["mrr"] == pytest.approx(1 / 4.5)


def test_sampled_softmax_corrects_each_logit_by_its_items_expected_count():
    from modelyard.recommend.networks import MatrixFactorization, softmax_objective

    torch.manual_seed(0)
    model = MatrixFactorization(5, 8, 4, biases=False)
    users, items = torch.tensor([0, 1, 2]), torch.tensor([3, 4, 5])
    frequency = torch.tensor([0.3, 0.1, 0.1, 0.2, 0.1, 0.1, 0.05, 0.05])
    batch = {"user": users, "item": items}
    loss = softmax_objective(0.0, 2, torch.Generator().manual_seed(1), frequency)(model, batch)
    drawn = torch.randint(8, (2,), generator=torch.Generator().manual_seed(1))
    candidates = torch.cat([items, drawn])
    logits = torch.stack([model(u.expand(5), candidates) for u in users])
    logits = logits - torch.log(3 * frequency[candidates] + 2 / 8)  # B x freq + negatives / I
    logits[:, 3:][candidates[3:] == items[:, None]] = -torch.inf  # a drawn copy of the target
    expected = torch.nn.functional.cross_entropy(logits, torch.arange(3))
    torch.testing.assert_close(loss, expected)
