"""Splitting interactions: at random, per user (leave-last-out by time, or fractions), or by
item (cold start: held-out items never seen in training). Vectorised."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelyard.errors import UserError
from modelyard.recommend.data import Interactions


def split_rows(found: Interactions, settings) -> dict[str, np.ndarray]:
    """{"train", "validation", "test"}: row indices into `found` (each sorted).
    `settings`: the config's `split` section (schema.recommendation.RecSplit)."""
    if settings.by == "leave_last_out":
        return leave_last_out(found.users, found.times)
    if settings.by == "cold_items":
        return cold_items(found.items, settings.validation, settings.test, settings.seed)
    if settings.by == "per_user":
        return per_user(found.users, found.times, settings.validation, settings.test, settings.seed)
    return random_split(len(found), settings.validation, settings.test, settings.seed)


def random_split(rows: int, validation: float, test: float, seed: int) -> dict[str, np.ndarray]:
    """A seeded permutation cut into exact counts (round(rows x fraction))."""
    if validation + test >= 1:
        raise UserError(
            f"split.validation {validation} + split.test {test} leave no training interactions; lower them"
        )
    order = np.random.default_rng(seed).permutation(rows)
    n_val, n_test = round(rows * validation), round(rows * test)
    return {
        "train": np.sort(order[n_val + n_test :]),
        "validation": np.sort(order[:n_val]),
        "test": np.sort(order[n_val : n_val + n_test]),
    }


def leave_last_out(users: np.ndarray, times: np.ndarray | None) -> dict[str, np.ndarray]:
    """Per user, ordered by time (ties: by row order): the last interaction is test, the
    second to last validation, the rest training. Users with fewer than 3 interactions keep
    all of theirs in training."""
    if times is None:
        raise UserError(
            "split.by: leave_last_out orders each user's interactions by time; set data.timestamp to the time column"
        )
    rows = np.arange(len(users))
    order = np.lexsort((rows, times, users))  # by user, then time, then row
    from_end = pd.Series(users[order]).groupby(users[order]).cumcount(ascending=False).to_numpy()
    counts = np.bincount(users)[users[order]]
    held = counts >= 3
    return {
        "train": np.sort(order[~held | (from_end >= 2)]),
        "validation": np.sort(order[held & (from_end == 1)]),
        "test": np.sort(order[held & (from_end == 0)]),
    }


def per_user(
    users: np.ndarray, times: np.ndarray | None, validation: float, test: float, seed: int
) -> dict[str, np.ndarray]:
    """Per user, round(n x test) interactions to test and round(n x validation) to
    validation: the latest ones by time (ties: by row order), or without times a seeded
    random choice; every user keeps at least one in training."""
    rows = np.arange(len(users))
    order_key = times if times is not None else np.random.default_rng(seed).permutation(len(rows))
    order = np.lexsort((rows, order_key, users))
    sorted_users = users[order]
    from_end = pd.Series(sorted_users).groupby(sorted_users).cumcount(ascending=False).to_numpy()
    count = np.bincount(users)[sorted_users]
    n_test = np.minimum(np.round(count * test), count - 1)
    n_val = np.minimum(np.round(count * validation), count - 1 - n_test)
    return {
        "train": np.sort(order[from_end >= n_test + n_val]),
        "validation": np.sort(order[(from_end >= n_test) & (from_end < n_test + n_val)]),
        "test": np.sort(order[from_end < n_test]),
    }


def cold_items(
    items: np.ndarray, validation: float, test: float, seed: int
) -> dict[str, np.ndarray]:
    """Cold start: a seeded permutation of the distinct items; the first round(n x test) of
    them go to test with ALL their interactions, the next round(n x validation) to
    validation, the rest (and their interactions) to training."""
    distinct = np.unique(items)
    if validation + test >= 1:
        raise UserError(
            f"split.validation {validation} + split.test {test} leave no training items; lower them"
        )
    order = np.random.default_rng(seed).permutation(distinct)
    n_test, n_val = round(len(distinct) * test), round(len(distinct) * validation)
    part = np.zeros(int(distinct.max()) + 1, dtype=np.int8)  # 0 train, 1 validation, 2 test
    part[order[:n_test]] = 2
    part[order[n_test : n_test + n_val]] = 1
    of_row = part[items]
    return {
        "train": np.flatnonzero(of_row == 0),
        "validation": np.flatnonzero(of_row == 1),
        "test": np.flatnonzero(of_row == 2),
    }
