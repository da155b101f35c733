"""Stratified ratio splits (`data.split.stratify`) and how `auto` resolves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelyard.config import validate
from modelyard.config.schema import Split
from modelyard.data.split import split_tables, with_resolved_split
from modelyard.errors import UserError

SPLITS = ("train", "validation", "test")


def split(frame: pd.DataFrame, **settings) -> dict[str, pd.DataFrame]:
    return split_tables({"train": frame, "validation": None, "test": None}, Split(**settings))


def imbalanced(rows: int = 220, minority: int = 20) -> pd.DataFrame:
    labels = np.array(["common"] * (rows - minority) + ["rare"] * minority)
    return pd.DataFrame({"id": range(rows), "y": np.random.default_rng(5).permutation(labels)})


def test_each_split_keeps_the_class_shares_with_the_plain_split_sizes():
    frame = imbalanced()
    plain, stratified = split(frame, stratify="none"), split(frame, stratify="y")
    assert [len(stratified[n]) for n in SPLITS] == [len(plain[n]) for n in SPLITS] == [154, 33, 33]
    for name in SPLITS:
        share = (stratified[name]["y"] == "rare").mean()
        assert abs(share * len(stratified[name]) - len(stratified[name]) / 11) <= 1
    everything = np.concatenate([stratified[n]["id"].to_numpy() for n in SPLITS])
    assert sorted(everything) == list(range(len(frame)))


def test_stratified_minority_counts_do_not_vary_with_the_seed_but_rows_do():
    frame = imbalanced()
    first, again, other = (split(frame, stratify="y", seed=s) for s in (1, 1, 2))
    assert list(first["validation"]["id"]) == list(again["validation"]["id"])
    assert list(first["validation"]["id"]) != list(other["validation"]["id"])
    counts = [(s["validation"]["y"] == "rare").sum() for s in (first, other)]
    assert counts[0] == counts[1] == 3


def test_every_class_lands_in_every_split():
    frame = pd.DataFrame({"y": ["a"] * 40 + ["b", "b", "b", "c", "c", "c"]})
    out = split(frame, stratify="y")
    for name in SPLITS:
        assert set(out[name]["y"]) == {"a", "b", "c"}


def test_a_split_smaller_than_the_number_of_classes_keeps_its_size():
    frame = pd.DataFrame({"y": list("abcdef") * 3})
    out = split(frame, stratify="y", validation=0.1, test=0.1)
    assert [len(out[n]) for n in SPLITS] == [14, 2, 2]
    assert set(out["train"]["y"]) == set("abcdef")


def test_rows_without_a_label_are_split_too():
    frame = pd.DataFrame({"id": range(40), "y": ["a", "b", None, "a"] * 10})
    out = split(frame, stratify="y")
    assert sum(len(out[n]) for n in SPLITS) == 40
    assert all(out[n]["y"].isna().any() for n in SPLITS)


def test_a_class_too_rare_for_every_split_is_named_with_its_count():
    frame = pd.DataFrame({"y": ["a"] * 30 + ["b", "b", "lonely"]})
    with pytest.raises(UserError) as caught:
        split(frame, stratify="y")
    message = str(caught.value)
    assert "data.split.stratify 'y': classes 'lonely' (1 row), 'b' (2 rows) have too few" in message
    assert "train, validation, test" in message and "data.split.stratify: none" in message
    two_splits = split(frame.iloc[:-1], stratify="y", test=0)  # 2 rows are enough for 2 splits
    assert set(two_splits["validation"]["y"]) == set(two_splits["train"]["y"]) == {"a", "b"}


def test_an_unknown_stratify_column_gets_did_you_mean():
    with pytest.raises(UserError, match=r"data.split.stratify: column 'Y' .*did you mean 'y'"):
        split(imbalanced(), stratify="Y")


def _resolved(outputs: list[dict], given=(), **split_settings) -> str:
    config = validate(
        {
            "inputs": [{"name": "x", "type": "number"}],
            "outputs": outputs,
            "data": {"train": "t.csv", "split": split_settings},
        }
    )
    return with_resolved_split(config, {"train", *given}).data.split.stratify


CATEGORY = {"name": "label", "type": "category", "column": "kind"}


def test_auto_stratifies_on_a_single_classifier_output_only():
    assert _resolved([CATEGORY]) == "kind"
    assert _resolved([{"name": "sick", "type": "binary"}]) == "sick"
    assert _resolved([{"name": "price", "type": "number"}]) == "none"
    assert _resolved([CATEGORY, {"name": "sick", "type": "binary"}]) == "none"


def test_auto_and_an_explicit_column_are_none_where_nothing_is_split_at_random():
    assert _resolved([CATEGORY], by="hash") == "none"
    assert _resolved([CATEGORY], column="fold") == "none"
    assert _resolved([CATEGORY], given=("validation", "test"), stratify="x") == "none"
    assert _resolved([CATEGORY], stratify="x") == "x"
    assert _resolved([CATEGORY], stratify="none") == "none"
