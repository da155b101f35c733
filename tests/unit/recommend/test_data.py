"""Reading interactions (ids, ratings, times, duplicates) and splitting them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelyard.config.schema.recommendation import Interactions as Settings
from modelyard.errors import UserError
from modelyard.recommend.data import interactions_from_frame
from modelyard.recommend.split import leave_last_out, random_split
from modelyard.recommend.synthetic import synthetic_interactions


def _read(frame, **settings):
    return interactions_from_frame(frame, Settings(file="x.csv", **settings), "x.csv")


def test_ids_map_to_codes_in_order_of_first_appearance():
    found = _read(pd.DataFrame({"user": [7, 3, 7], "item": ["b", "a", "a"]}))
    assert found.user_ids.tolist() == ["7", "3"] and found.users.tolist() == [0, 1, 0]
    assert found.item_ids.tolist() == ["b", "a"] and found.items.tolist() == [0, 1, 1]
    assert found.ratings is None and found.times is None


@pytest.mark.parametrize(
    ("policy", "ratings", "times"),
    [
        ("last", [2.0, 5.0], [30, 20]),
        ("first", [1.0, 5.0], [10, 20]),
        ("mean", [1.5, 5.0], [30, 20]),
    ],
)
def test_duplicate_pairs_follow_the_policy(policy, ratings, times, capsys):
    frame = pd.DataFrame(
        {"user": ["a", "b", "a"], "item": ["x", "x", "x"], "r": [1, 5, 2], "t": [10, 20, 30]}
    )
    found = _read(frame, rating="r", timestamp="t", duplicates=policy)
    order = np.argsort(found.users)
    assert found.ratings[order].tolist() == ratings
    if policy != "mean":
        assert found.times[order].tolist() == times
    assert "1 (user, item) pairs appear more than once" in capsys.readouterr().err


def test_duplicate_pairs_with_policy_error_name_the_rows():
    frame = pd.DataFrame({"user": ["a", "b", "a"], "item": ["x", "x", "x"]})
    with pytest.raises(UserError, match=r"user 'a', item 'x' at rows 1 and 3"):
        _read(frame, duplicates="error")


@pytest.mark.parametrize(
    ("frame", "settings", "message"),
    [
        ({"user": ["a", None], "item": ["x", "y"]}, {}, r"row 2: column 'user' has no id"),
        ({"user": ["a", "b"], "item": ["x", " "]}, {}, r"row 2: column 'item' has no id"),
        (
            {"user": ["a", "b"], "item": ["x", "y"], "r": [3, 6]},
            {"rating": "r", "rating_scale": (1, 5)},
            r"row 2: rating 6 in column 'r' is outside data.rating_scale \[1, 5\]",
        ),
        (
            {"user": ["a", "b"], "item": ["x", "y"], "r": ["3", "good"]},
            {"rating": "r"},
            r"row 2: column 'r' holds 'good', not a rating",
        ),
        ({"usr": ["a"], "item": ["x"]}, {}, r"column 'user' \(data.user\) is not in the data"),
    ],
)
def test_bad_input_names_the_file_row_and_column(frame, settings, message):
    with pytest.raises(UserError, match=f"^x.csv: {message}"):
        _read(pd.DataFrame(frame), **settings)


def test_millions_of_ids_map_quickly():
    n = 2_000_000
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user": rng.integers(0, 10**6, n), "item": np.arange(n)})
    found = _read(frame, duplicates="first")
    assert len(found.item_ids) == n and found.users.max() < len(found.user_ids)


def test_leave_last_out_holds_out_each_users_last_two_by_time():
    users = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2])
    times = np.array([5, 1, 9, 3, 1, 2, 7, 7, 1])
    rows = leave_last_out(users, times)
    assert rows["test"].tolist() == [2, 7]  # user 2's tie at time 7: the later row is last
    assert rows["validation"].tolist() == [0, 6]
    assert rows["train"].tolist() == [1, 3, 4, 5, 8]  # user 1 has only two: all in training


def test_random_split_is_exact_disjoint_and_seeded():
    rows = random_split(100, 0.1, 0.2, seed=3)
    assert [len(rows[s]) for s in ("train", "validation", "test")] == [70, 10, 20]
    assert len(np.unique(np.concatenate(list(rows.values())))) == 100
    again = random_split(100, 0.1, 0.2, seed=3)
    assert all((rows[s] == again[s]).all() for s in rows)


def test_synthetic_interactions_have_distinct_pairs_in_scale():
    frame = synthetic_interactions(users=30, items=20, per_user=5)
    assert len(frame) == 150 and not frame.duplicated(["user", "item"]).any()
    assert frame["rating"].between(1, 5).all()
    assert frame.groupby("user")["timestamp"].nunique().eq(5).all()


def test_a_config_without_a_file_asks_for_one():
    from modelyard.recommend.data import read_interactions

    with pytest.raises(UserError, match="^data.file: not set"):
        read_interactions(Settings(), base=None)


def test_per_user_holds_out_each_users_latest_fraction_and_keeps_one_in_training():
    from modelyard.recommend.split import per_user

    users = np.array([0] * 10 + [1] * 2 + [2])
    times = np.array([9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 5])
    rows = per_user(users, times, validation=0.2, test=0.3, seed=0)
    assert rows["test"].tolist() == [0, 1, 2, 11]  # user 0's 3 latest; user 1's round(0.6)=1
    assert rows["validation"].tolist() == [3, 4]  # user 1 keeps its other one in training
    assert rows["train"].tolist() == [5, 6, 7, 8, 9, 10, 12]


def test_per_user_without_times_is_seeded_and_exact_per_user():
    from modelyard.recommend.split import per_user

    users = np.repeat(np.arange(50), 10)
    rows = per_user(users, None, 0.1, 0.2, seed=4)
    assert (np.bincount(users[rows["test"]]) == 2).all()
    assert (np.bincount(users[rows["validation"]]) == 1).all()
    again = per_user(users, None, 0.1, 0.2, seed=4)
    assert all((rows[s] == again[s]).all() for s in rows)
    assert not (rows["test"] == per_user(users, None, 0.1, 0.2, seed=5)["test"]).all()
