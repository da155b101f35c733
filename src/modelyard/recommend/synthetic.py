"""Synthetic interactions with a known low-rank structure, for tests and benchmarks."""

from __future__ import annotations

import numpy as np
import pandas as pd


def synthetic_interactions(
    users: int = 200,
    items: int = 100,
    per_user: int = 40,
    rank: int = 3,
    noise: float = 0.3,
    seed: int = 0,
) -> pd.DataFrame:
    """A table of user, item, rating (1 to 5), timestamp: each user rates `per_user` distinct
    items. Ratings are 3 + user . item factors (rank `rank`, scaled to spread about +-1.5)
    plus Gaussian `noise`, clipped to [1, 5]. Which items a user interacts with follows the
    same factors (items it likes are likelier), so implicit feedback has structure too.
    Timestamps increase per user in the order of interaction."""
    rng = np.random.default_rng(seed)
    user_f = rng.normal(size=(users, rank))
    item_f = rng.normal(size=(items, rank))
    affinity = user_f @ item_f.T / np.sqrt(rank)  # (users, items), about unit variance
    # Gumbel top-k: per_user distinct items per user, likelier where affinity is high
    keys = affinity + rng.gumbel(size=affinity.shape)
    chosen = np.argsort(-keys, axis=1)[:, :per_user]  # (users, per_user)
    user_col = np.repeat(np.arange(users), per_user)
    item_col = chosen.ravel()
    rating = 3.0 + 1.5 * affinity[user_col, item_col] + rng.normal(scale=noise, size=len(item_col))
    order = rng.permuted(np.tile(np.arange(per_user), (users, 1)), axis=1).ravel()
    return pd.DataFrame(
        {
            "user": [f"u{u}" for u in user_col],
            "item": [f"i{i}" for i in item_col],
            "rating": np.clip(rating, 1.0, 5.0).round(2),
            "timestamp": 1_600_000_000 + user_col * 1000 + order,
        }
    )


GENRE_WORDS = [
    ["space", "laser", "robot", "galaxy", "alien"],
    ["love", "kiss", "wedding", "heart", "romance"],
    ["murder", "detective", "crime", "clue", "killer"],
    ["dragon", "wizard", "magic", "quest", "sword"],
]


def synthetic_genres(
    users: int = 60, items: int = 80, per_user: int = 8, new_items: int = 4, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(interactions, items): item i has genre i % 4, a title of two of its genre's words and
    a filler word, and a year; each user likes one genre (user u: u % 4) and interacts with
    `per_user` items of it. `new_items` more items (one genre each, in turn) are in the items
    table only: no interactions. Interactions: user, item, timestamp; items: item, title,
    genre, year."""
    rng = np.random.default_rng(seed)
    total = items + new_items
    genre = np.arange(total) % len(GENRE_WORDS)
    titles = [
        " ".join([*rng.choice(GENRE_WORDS[g], 2, replace=False), f"part{rng.integers(9)}"])
        for g in genre
    ]
    table = pd.DataFrame(
        {
            "item": [f"i{i}" for i in range(total)],
            "title": titles,
            "genre": [f"g{g}" for g in genre],
            "year": rng.integers(1950, 2020, total),
        }
    )
    rows = []
    for u in range(users):
        liked = np.flatnonzero(genre[:items] == u % len(GENRE_WORDS))
        for t, i in enumerate(rng.choice(liked, per_user, replace=False)):
            rows.append((f"u{u}", f"i{i}", 1_600_000_000 + t))
    return pd.DataFrame(rows, columns=["user", "item", "timestamp"]), table
