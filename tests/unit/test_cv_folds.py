"""cv/folds.py: the held-out rows of every fold are scikit-learn's, and bad settings are the
user's errors naming both numbers."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold, RepeatedStratifiedKFold

from modelyard.cv.folds import fold_indices, folds_frame, training_rows
from modelyard.errors import UserError


def _rows(count: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "x": rng.normal(size=count),
            "label": np.where(np.arange(count) % 3 == 0, "rare", "common"),
            "patient": np.arange(count) // 4,
        }
    )


def test_plain_folds_are_kfold_with_the_seed_and_cover_every_row_once():
    rows = _rows()
    found = fold_indices(rows, folds=4, repeats=1, seed=7)
    expected = [np.sort(t) for _, t in KFold(4, shuffle=True, random_state=7).split(rows)]
    assert [f.fold for f in found] == [1, 2, 3, 4]
    for fold, held_out in zip(found, expected, strict=True):
        np.testing.assert_array_equal(fold.held_out, held_out)
        train = training_rows(len(rows), fold)
        assert len(np.intersect1d(train, fold.held_out)) == 0
        assert len(train) + len(fold.held_out) == len(rows)
    frame = folds_frame(found)
    assert frame["row"].tolist() == list(range(len(rows)))  # each row held out once


def test_stratified_repeats_are_repeated_stratified_kfold():
    rows = _rows()
    found = fold_indices(rows, folds=3, repeats=2, seed=1, stratify="label")
    splitter = RepeatedStratifiedKFold(n_splits=3, n_repeats=2, random_state=1)
    expected = [np.sort(t) for _, t in splitter.split(rows, rows["label"])]
    assert [(f.repeat, f.fold) for f in found] == [(r, k) for r in (1, 2) for k in (1, 2, 3)]
    for fold, held_out in zip(found, expected, strict=True):
        np.testing.assert_array_equal(fold.held_out, held_out)
        assert (rows["label"].iloc[fold.held_out] == "rare").sum() in (3, 4)  # 10 of 30
    assert found[0].name(2) == "repeat_1/fold_1" and found[0].name(1) == "fold_1"


@pytest.mark.parametrize("stratify", [None, "label"])  # GroupKFold, StratifiedGroupKFold
def test_a_group_never_straddles_two_folds(stratify):
    rows = _rows()
    found = fold_indices(rows, folds=3, repeats=2, seed=0, stratify=stratify, group="patient")
    assert len(found) == 6
    for repeat in (1, 2):
        held = [set(rows["patient"].iloc[f.held_out]) for f in found if f.repeat == repeat]
        assert set.union(*held) == set(rows["patient"])
        assert sum(len(h) for h in held) == rows["patient"].nunique()  # no group in two folds
    first, second = (folds_frame(found).query(f"repeat == {r}")["fold"] for r in (1, 2))
    assert first.tolist() != second.tolist()  # each repeat shuffles anew


@pytest.mark.parametrize(
    ("count", "folds", "group", "message"),
    [
        (3, 5, None, "3 rows to cross-validate but --folds 5"),
        (30, 1, None, "at least 2 folds"),
        (30, 9, "patient", "8 groups but --folds 9"),
        (30, 3, "patiant", "'patiant' is not in the training data; did you mean 'patient'?"),
    ],
)
def test_impossible_folds_are_the_users_error(count, folds, group, message):
    with pytest.raises(UserError, match=re.escape(message)):
        fold_indices(_rows(count), folds=folds, repeats=1, seed=0, group=group)
