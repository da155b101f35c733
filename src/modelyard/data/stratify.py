"""Stratified ratio splits: every class of a column keeps its share in each split.

scikit-learn's `train_test_split(stratify=)` for three splits: the split sizes are those of a
plain random split (exact counts); each split's rows are shared out among the classes in
proportion to the rows still left (largest remainders, at least one row of every class
unless the split is smaller than the number of classes), and
each class's rows are taken in the order of the seeded permutation. Rows without a value in
the column (missing labels, dropped later) are a group of their own with no minimum.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelyard.data.features.base import texts_of
from modelyard.errors import UserError


def stratified_parts(
    values: pd.Series, order: np.ndarray, sizes: dict[str, int], column: str
) -> dict[str, np.ndarray]:
    """{split: (n,) row positions} for the splits of `sizes` (taken in that order) and
    "train" (the rest). `values` (N,) is the column, `order` (N,) the seeded permutation."""
    codes, classes = pd.factorize(pd.Series(texts_of(values), dtype=object), sort=True)
    codes = np.where(codes < 0, len(classes), codes)  # missing values: the last group
    counts = np.bincount(codes, minlength=len(classes) + 1)
    need = np.append(np.ones(len(classes), dtype=np.int64), 0)  # (K + 1,) rows per split
    _require_enough_rows(classes, counts[:-1], ["train", *reversed(sizes)], column)
    by_group = order[np.argsort(codes[order], kind="stable")]  # group by group, permuted
    starts = np.concatenate([[0], np.cumsum(counts)])[:-1]
    taken = np.zeros_like(counts)
    parts = {}
    for index, (name, size) in enumerate(sizes.items()):
        later = len(sizes) - index  # splits after this one, train included
        share = _allocate(size, counts - taken, need, later)
        parts[name] = _take(by_group, starts + taken, share)
        taken += share
    parts["train"] = _take(by_group, starts + taken, counts - taken)
    return parts


def _take(by_group: np.ndarray, starts: np.ndarray, share: np.ndarray) -> np.ndarray:
    """(sum(share),) positions: `share[k]` rows of group k from `starts[k]` on."""
    pieces = [by_group[s : s + n] for s, n in zip(starts, share, strict=True) if n]
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)


def _allocate(size: int, left: np.ndarray, need: np.ndarray, later: int) -> np.ndarray:
    """(K + 1,) rows of each group for a split of `size` rows: proportional to the rows
    `left`, at least `need` (unless the split has fewer rows than that), leaving `need` rows
    for each of the `later` splits."""
    cap = left - later * need
    if need.sum() > size:  # fewer rows than classes: some classes miss this split
        need = np.zeros_like(need)
    if cap.sum() < size:
        raise UserError(
            "data: no training rows are left after taking the validation and test splits"
        )
    ideal = size * left / left.sum()
    share = np.clip(np.floor(ideal).astype(np.int64), need, cap)
    while share.sum() < size:  # largest remainders first (ties: the first class)
        room = np.where(share < cap, ideal - share, -np.inf)
        share[np.argmax(room)] += 1
    while share.sum() > size:  # a class lifted to its minimum: take from the most over
        spare = np.where(share > need, share - ideal, -np.inf)
        share[np.argmax(spare)] -= 1
    return share


def _require_enough_rows(
    classes: pd.Index, counts: np.ndarray, splits: list[str], column: str
) -> None:
    """A UserError naming the classes with fewer rows than there are `splits` (they cannot
    be in every split), rarest first."""
    rare = np.flatnonzero(counts < len(splits))
    if not len(rare):
        return
    rare = rare[np.argsort(counts[rare], kind="stable")]
    named = ", ".join(
        f"'{classes[k]}' ({counts[k]} row{'s' if counts[k] > 1 else ''})" for k in rare[:5]
    )
    more = f" and {len(rare) - 5} more" if len(rare) > 5 else ""
    which = f"class {named} has" if len(rare) == 1 else f"classes {named}{more} have"
    raise UserError(
        f"data.split.stratify '{column}': {which} too few rows to appear in "
        f"each of {', '.join(splits)} (a row each at least); "
        "drop or merge the rare classes, or set data.split.stratify: none"
    )
