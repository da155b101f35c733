"""Sampled ranking metrics (the NCF protocol) against cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from modelyard.errors import UserError
from modelyard.metrics import metric_mode
from modelyard.recommend.sampled import draw_negatives, sampled_metrics


class _Table(torch.nn.Module):
    """score(u, i) = table[u, i]: users, items (P, C) -> (P, C)."""

    def __init__(self, table):
        super().__init__()
        self.table = torch.tensor(table, dtype=torch.float32)

    def forward(self, users, items):
        return self.table[users, items]


def _metrics(table, held, known, negatives, ks=(1, 2)):
    users, items = (np.array(v) for v in zip(*held, strict=True))
    known_users, known_items = (np.array(v) for v in zip(*known, strict=True))
    return sampled_metrics(
        _Table(table),
        users,
        items,
        (known_users, known_items),
        len(table[0]),
        ks,
        negatives,
        0,
        torch.device("cpu"),
    )


def test_each_positive_is_ranked_among_negatives_the_user_never_interacted_with():
    # user 0 knows items 0 and 1 (1 held out): its 2 negatives can only be items 2 and 3;
    # its positive (0.9) is beaten by item 2 (1.0): rank 2. User 1 knows item 3 (held out),
    # which outscores every other item: rank 1 whatever 2 of items 0-2 are drawn.
    table = [[0.5, 0.9, 1.0, 0.1], [0.2, 0.3, 0.4, 5.0]]
    found = _metrics(table, held=[(0, 1), (1, 3)], known=[(0, 0), (0, 1), (1, 3)], negatives=2)
    assert found["sampled_hr_at_1"] == pytest.approx(0.5)  # user 1 only
    assert found["sampled_ndcg_at_1"] == pytest.approx(0.5)
    assert found["sampled_hr_at_2"] == pytest.approx(1.0)
    assert found["sampled_ndcg_at_2"] == pytest.approx((1 / math.log2(3) + 1) / 2)
    assert found["sampled_protocol"] == "sampled: 1 positive + 2 negatives"


def test_a_tie_counts_against_the_positive():
    found = _metrics([[1.0, 1.0, 1.0]], held=[(0, 0)], known=[(0, 0)], negatives=2, ks=[1, 3])
    assert found["sampled_hr_at_1"] == 0.0 and found["sampled_hr_at_3"] == 1.0
    assert found["sampled_ndcg_at_3"] == pytest.approx(0.5)  # rank 3: 1 / log2(4)


def test_negatives_are_distinct_never_known_and_uniform():
    n_items, negatives = 50, 30
    users = np.repeat(np.arange(4), 500)
    known = np.array([u * n_items + i for u in range(4) for i in range(0, n_items, 5)])  # 10 each
    drawn = draw_negatives(users, known, n_items, negatives, np.random.default_rng(0))
    assert drawn.shape == (2000, negatives)
    assert all(len(set(row)) == negatives for row in drawn.tolist())  # distinct per row
    assert not np.isin(drawn % 5, [0]).any()  # items 0, 5, 10, ... are known by everyone
    counts = np.bincount(drawn.ravel(), minlength=n_items)[np.arange(n_items) % 5 != 0]
    expected = 2000 * negatives / 40
    assert counts.min() > 0.85 * expected and counts.max() < 1.15 * expected


def test_the_same_seed_draws_the_same_negatives():
    args = (np.zeros(10, dtype=np.int64), np.array([0]), 20, 5)
    a = draw_negatives(*args, np.random.default_rng(3))
    b = draw_negatives(*args, np.random.default_rng(3))
    assert (a == b).all()


def test_too_few_unknown_items_is_a_user_error():
    with pytest.raises(UserError, match=r"negatives: 3, but a user has only 2 items"):
        _metrics([[1.0, 2.0, 3.0, 4.0]], held=[(0, 0)], known=[(0, 0), (0, 1)], negatives=3)


@pytest.mark.parametrize("name", ["sampled_hr_at_10", "sampled_ndcg_at_5"])
def test_sampled_metrics_are_higher_is_better(name):
    assert metric_mode(name) == "max"


def test_early_stopping_may_watch_a_sampled_metric_only_when_they_are_measured():
    from modelyard.config import validate
    from modelyard.errors import ConfigError

    raw = {
        "task": "recommendation",
        "data": {"file": "interactions.csv"},
        "model": {"objective": "ranking"},
        "trainer": {"early_stopping": {"metric": "sampled_ndcg_at_10"}},
    }
    with pytest.raises(ConfigError, match="'sampled_ndcg_at_10' is not measured"):
        validate(raw)
    config = validate({**raw, "evaluation": {"sampled": {"negatives": 99}}})
    assert config.evaluation.sampled.negatives == 99 and config.evaluation.sampled.seed == 0
