"""The two-tower network, side tables, the cold-item split and its ranking protocol."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from modelyard.config import validate
from modelyard.recommend.build import NetworkData, build_network
from modelyard.recommend.cold import (
    COLD_PROTOCOL,
    cold_ranking,
    popularity_baseline,
    popularity_scores,
)
from modelyard.recommend.data import interactions_from_frame
from modelyard.recommend.side import add_side_ids, fit_sides, read_sides
from modelyard.recommend.split import cold_items
from modelyard.recommend.synthetic import synthetic_genres


def _config(**model):
    return validate(
        {
            "task": "recommendation",
            "data": {"timestamp": "timestamp"},
            "items": {
                "file": "items.csv",
                "features": [
                    {"name": "title", "type": "text", "encoder": {"type": "bow", "min_count": 1}},
                    {"name": "genre", "type": "category"},
                    {"name": "year", "type": "number"},
                ],
            },
            "model": {"type": "two_tower", "dim": 8, "hidden": [16], **model},
        }
    )


def _prepared(tmp_path: Path, config, train_items: int = 60, title_of_last: str | None = None):
    """(interactions with side ids, side tables fitted on the interactions of the first
    `train_items` item codes, training rows); `title_of_last`: i83's title."""
    frame, items = synthetic_genres()
    if title_of_last is not None:
        items.loc[items["item"] == "i83", "title"] = title_of_last
    items.to_csv(tmp_path / "items.csv", index=False)
    found = interactions_from_frame(frame, config.data, "frame")
    sides = read_sides(config, tmp_path, frame, found)
    found = add_side_ids(found, sides)
    train = np.flatnonzero(found.items < train_items)
    fit_sides(sides, found.take(train), tmp_path)
    return found, sides, train


def test_side_ids_extend_the_catalogue_and_preprocessing_sees_training_items_only(tmp_path):
    config = _config()
    found, sides, train = _prepared(tmp_path, config, title_of_last="zebra unicorn")
    before = interactions_from_frame(synthetic_genres()[0], config.data, "frame")
    assert list(found.item_ids[: len(before.item_ids)]) == list(before.item_ids)
    assert list(found.item_ids[len(before.item_ids) :]) == ["i80", "i81", "i82", "i83"]
    table = sides["items"]
    assert list(table.frame.index) == list(range(84))
    assert table.frame["title"].iloc[-1] == "zebra unicorn"  # row i = code i
    title = next(f for f in table.features if f.name == "title")
    assert "space" in title.grams[0] and "zebra" not in title.grams[0]  # training items only
    assert table.tensors["title"].shape[0] == 84 and table.tensors["year"].shape == (84,)


@pytest.mark.parametrize("similarity", ["dot", "cosine"])
def test_chunked_score_all_equals_unchunked_and_the_pairwise_scores(tmp_path, similarity):
    torch.manual_seed(0)
    config = _config(similarity=similarity, item_id=True, item_chunk=7)
    found, sides, train = _prepared(tmp_path, config)
    data = NetworkData(len(found.user_ids), len(found.item_ids), 0.0, found.take(train), sides)
    network = build_network(config.model, data).eval()
    users = torch.arange(10)
    with torch.no_grad():
        chunked = network.score_all(users)
        network.item_chunk = 10_000
        network.train().eval()  # forget the chunked vectors
        whole = network.score_all(users)
        items = torch.arange(network.items)
        pairs = network(users[:, None].expand(-1, len(items)), items[None, :].expand(10, -1))
        all_pairs = network(users, items, all_pairs=True)
    assert chunked.shape == (10, 84)
    torch.testing.assert_close(chunked, whole, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(pairs, whole, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(all_pairs, whole, rtol=1e-5, atol=1e-5)


def test_item_vectors_are_kept_in_evaluation_only(tmp_path):
    config = _config()
    found, sides, train = _prepared(tmp_path, config)
    data = NetworkData(len(found.user_ids), len(found.item_ids), 0.0, found.take(train), sides)
    network = build_network(config.model, data).eval()
    with torch.no_grad():
        first = network.item_vectors()
        assert network.item_vectors() is first
    network.train()
    assert network.item_vectors() is not first
    assert network.item_vectors().requires_grad  # training: never a stale or detached copy


def test_items_without_training_interactions_share_the_zero_id_vector(tmp_path):
    config = _config(item_id=True, user_id=True)
    found, sides, train = _prepared(tmp_path, config)
    data = NetworkData(len(found.user_ids), len(found.item_ids), 0.0, found.take(train), sides)
    tower = build_network(config.model, data).item_tower
    ids = tower.ids(torch.arange(84))
    assert ids[60:].abs().sum() == 0 and (ids[:60].abs().sum(1) > 0).all()


def test_cold_items_hold_out_whole_items():
    rng = np.random.default_rng(0)
    items = rng.integers(0, 50, 1000)
    rows = cold_items(items, 0.2, 0.1, seed=3)
    held = {name: set(items[r]) for name, r in rows.items()}
    assert len(held["test"]) == 5 and len(held["validation"]) == 10
    assert not held["train"] & held["test"] and not held["train"] & held["validation"]
    assert sorted(np.concatenate(list(rows.values()))) == list(range(1000))
    again = cold_items(items, 0.2, 0.1, seed=3)
    assert all(np.array_equal(rows[k], again[k]) for k in rows)


def test_cold_ranking_ranks_among_the_held_out_items_only():
    # 2 users, catalogue of 6; held-out items 4 and 5; user 0 wants 5, user 1 wants 4
    scores = torch.tensor([[9.0, 9, 9, 9, 1, 2], [9.0, 9, 9, 9, 1, 2]])
    found = cold_ranking(
        lambda users: scores[users],
        np.array([0, 1]),
        np.array([5, 4]),
        2,
        [1],
        16,
        torch.device("cpu"),
    )
    # warm items 0..3 score higher but are not candidates: user 0 hits at rank 1, user 1 at 2
    assert found["recall_at_1"] == pytest.approx(0.5)
    assert found["mrr"] == pytest.approx((1 + 0.5) / 2)
    assert found["coverage"] == pytest.approx(0.5)  # of the 2 candidates, one in a top 1


def test_popularity_leaves_out_the_users_own_interactions():
    score_all = popularity_scores(np.array([3.0, 1.0, 0.0]), (np.array([0]), np.array([0])), 2)
    scores = score_all(torch.tensor([0, 1]))
    assert scores[0, 0] < scores[1, 0]
    assert (scores[:, 0] > scores[:, 1]).all() and (scores[:, 1] > scores[:, 2]).all()


def test_popularity_baselines_on_a_cold_split_are_chance_or_the_oracle():
    # 40 users; items 0..9 warm; cold test items 10..19, item 10 taken by every user
    users = np.concatenate([np.arange(40), np.arange(40), np.arange(40) % 7])
    items = np.concatenate([np.arange(40) % 10, np.full(40, 10), 11 + np.arange(40) % 7])
    rows = {"train": np.arange(40), "validation": np.zeros(0, dtype=np.int64)}
    rows["test"] = np.arange(40, 120)
    ks = [1]
    chance = popularity_baseline(users, items, rows, "test", True, 40, 20, ks)
    oracle = popularity_baseline(users, items, rows, "test", True, 40, 20, ks, oracle=True)
    assert chance["protocol"] == oracle["protocol"] == COLD_PROTOCOL
    assert "training" in chance["baseline"] and "oracle" in oracle["baseline"]
    assert oracle["hr_at_1"] == 1.0  # item 10 first for everyone
    assert chance["hr_at_1"] < 0.5


def test_a_frozen_encoder_runs_once_per_code():
    from modelyard.models.encoders.tabular import CategoryEmbedding
    from modelyard.recommend.towers import Tower

    encoder = CategoryEmbedding(5, 4).requires_grad_(False)
    calls = []
    encoder.register_forward_hook(lambda module, args, out: calls.append(len(args[0])))
    features = {"genre": torch.tensor([0, 1, 2, 3, 4, 1])}
    tower = Tower(
        torch.ones(6, dtype=torch.bool), False, 0.0, features, {"genre": encoder}, [], 0.0, 3
    )
    codes = torch.tensor([5, 0, 5])
    first, second = tower(codes), tower(torch.tensor([1]))
    assert calls == [6]  # every code once, then looked up
    expected = tower.out(tower.body(encoder.embedding(features["genre"][codes])))
    torch.testing.assert_close(first, expected)
    assert second.requires_grad  # the tower's own layers still train
