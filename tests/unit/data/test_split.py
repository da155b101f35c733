"""Splitting the training table into train / validation / test."""

from __future__ import annotations

import pandas as pd
import pytest

from modelyard.config.schema import Split
from modelyard.data.split import split_tables
from modelyard.errors import UserError


def tables(train: pd.DataFrame, validation=None, test=None) -> dict:
    return {"train": train, "validation": validation, "test": test}


def ids(frame) -> list[int]:
    return list(frame["id"])


TRAIN = pd.DataFrame({"id": range(100), "x": range(100, 200)})


def test_ratio_split_sizes_and_disjoint_cover():
    out = split_tables(tables(TRAIN), Split(validation=0.2, test=0.1))
    assert [len(out[n]) for n in ("train", "validation", "test")] == [70, 20, 10]
    everything = ids(out["train"]) + ids(out["validation"]) + ids(out["test"])
    assert sorted(everything) == list(range(100))


def test_rows_keep_their_order_within_a_split():
    out = split_tables(tables(TRAIN), Split())
    for frame in out.values():
        assert ids(frame) == sorted(ids(frame))


def test_split_is_deterministic_by_seed():
    first = split_tables(tables(TRAIN), Split(seed=1))
    again = split_tables(tables(TRAIN), Split(seed=1))
    other = split_tables(tables(TRAIN), Split(seed=2))
    assert ids(first["validation"]) == ids(again["validation"])
    assert ids(first["validation"]) != ids(other["validation"])


def test_tiny_table_still_gets_one_row_each():
    out = split_tables(tables(TRAIN.head(3)), Split(validation=0.1, test=0.1))
    assert [len(out[n]) for n in ("train", "validation", "test")] == [1, 1, 1]


def test_zero_ratio_gives_no_table():
    out = split_tables(tables(TRAIN), Split(validation=0.2, test=0))
    assert out["test"] is None
    assert len(out["train"]) == 80


def test_given_files_are_not_re_split():
    validation = pd.DataFrame({"id": [-1], "x": [0]})
    test = pd.DataFrame({"id": [-2], "x": [0]})
    out = split_tables(tables(TRAIN, validation, test), Split(validation=0.3, test=0.3))
    assert out["validation"] is validation and out["test"] is test
    assert len(out["train"]) == 100


def test_given_validation_file_only_test_is_split_off():
    validation = pd.DataFrame({"id": [-1], "x": [0]})
    out = split_tables(tables(TRAIN, validation), Split(validation=0.3, test=0.1))
    assert out["validation"] is validation
    assert (len(out["train"]), len(out["test"])) == (90, 10)


def test_no_training_rows_left():
    with pytest.raises(UserError, match="no training rows are left"):
        split_tables(tables(TRAIN.head(2)), Split(validation=0.5, test=0.5))


@pytest.mark.parametrize(
    "marks",
    [
        ["train", "validation", "test", "train", "Val", " TEST "],
        [0, 1, 2, 0, 1, 2],
        [0.0, 1.0, 2.0, 0.0, 1.0, 2.0],
        ["0", "valid", "2", "train", "1", "test"],
    ],
)
def test_split_column(marks):
    train = pd.DataFrame({"id": range(6), "fold": marks})
    out = split_tables(tables(train), Split(column="fold"))
    assert ids(out["train"]) == [0, 3]
    assert ids(out["validation"]) == [1, 4]
    assert ids(out["test"]) == [2, 5]
    assert "fold" not in out["train"].columns


def test_split_column_without_a_split_gives_no_table():
    train = pd.DataFrame({"id": range(3), "fold": ["train", "train", "test"]})
    out = split_tables(tables(train), Split(column="fold"))
    assert out["validation"] is None


def test_split_column_keeps_a_given_file():
    validation = pd.DataFrame({"id": [-1]})
    train = pd.DataFrame({"id": range(3), "fold": ["train", "validation", "test"]})
    out = split_tables(tables(train, validation), Split(column="fold"))
    assert out["validation"] is validation
    assert ids(out["test"]) == [2]


def test_bad_split_value_names_the_row():
    train = pd.DataFrame({"id": range(4), "fold": ["train", "test", "holdout", "train"]})
    with pytest.raises(
        UserError,
        match="data.split.column 'fold': row 3 has 'holdout'; use train, validation or test",
    ):
        split_tables(tables(train), Split(column="fold"))


def test_missing_split_value_names_its_row():
    # a gap makes a 0/1/2 column float: the message must point at the gap, not at row 1's 0.0
    train = pd.DataFrame({"id": range(4), "fold": [0, 1, None, 2]})
    with pytest.raises(UserError, match="row 3 has 'nan'"):
        split_tables(tables(train), Split(column="fold"))


def test_split_column_not_in_the_data():
    with pytest.raises(
        UserError, match="column 'fold' is not in the training data; columns: id, x"
    ):
        split_tables(tables(TRAIN), Split(column="fold"))


def test_split_column_without_train_rows():
    train = pd.DataFrame({"id": range(2), "fold": ["test", "validation"]})
    with pytest.raises(UserError, match="no row is marked train"):
        split_tables(tables(train), Split(column="fold"))


# --- which splits are carved when some are given (resolve_split)


def resolved(given: set[str], **data) -> Split:
    from modelyard.config.schema import Data
    from modelyard.data.split import resolve_split

    return resolve_split(Data.model_validate(data), given)


def test_only_train_given_uses_the_ratios():
    assert resolved({"train"}) == Split(validation=0.15, test=0.15)


def test_given_validation_means_no_test_is_carved_unless_written():
    assert resolved({"train", "validation"}) == Split(validation=None, test=None)
    written = resolved({"train", "validation"}, split={"test": 0.1})
    assert written == Split(validation=None, test=0.1)


def test_given_test_only_carves_validation():
    assert resolved({"train", "test"}) == Split(validation=0.15, test=None)


def test_a_split_column_makes_the_ratios_unused():
    assert resolved({"train"}, split={"column": "fold"}) == Split(
        validation=None, test=None, column="fold"
    )


def test_config_files_validation_only_carves_no_test(tmp_path):
    from modelyard.config import validate
    from modelyard.data.split import read_config_data

    TRAIN.to_csv(tmp_path / "train.csv", index=False)
    TRAIN.head(10).to_csv(tmp_path / "valid.csv", index=False)
    config = {
        "name": "t",
        "data": {"train": "train.csv", "validation": "valid.csv"},
        "inputs": [{"name": "x", "type": "number"}],
        "outputs": [{"name": "id", "type": "number"}],
    }
    out = read_config_data(validate(config), tmp_path)
    assert (len(out["train"]), len(out["validation"]), out["test"]) == (100, 10, None)
    config["data"]["split"] = {"test": 0.2}
    out = read_config_data(validate(config), tmp_path)
    assert (len(out["train"]), len(out["test"])) == (80, 20)


# ------------------------------------------------------------ by: hash


def _hash_split(frame: pd.DataFrame, **settings) -> dict:
    return split_tables(tables(frame), Split(by="hash", validation=0.2, test=0.1, **settings))


def _assignment(out: dict) -> dict[int, str]:
    return {i: name for name in ("train", "validation", "test") for i in ids(out[name])}


def test_hash_split_covers_every_row_once_in_about_the_ratios():
    big = pd.DataFrame({"id": range(20_000), "x": range(20_000)})
    out = _hash_split(big, id_column="id")
    sizes = {name: len(out[name]) for name in ("train", "validation", "test")}
    assert sum(sizes.values()) == 20_000 and len(_assignment(out)) == 20_000
    assert sizes["validation"] == pytest.approx(4_000, rel=0.05)
    assert sizes["test"] == pytest.approx(2_000, rel=0.07)


def test_a_row_keeps_its_split_when_rows_are_added_or_reordered():
    before = _assignment(_hash_split(TRAIN, id_column="id"))
    grown = pd.concat([TRAIN, pd.DataFrame({"id": range(100, 300), "x": 0})]).sample(
        frac=1, random_state=3
    )
    after = _assignment(_hash_split(grown.reset_index(drop=True), id_column="id"))
    assert {i: after[i] for i in before} == before


def test_the_seed_changes_the_assignment_and_repeats_it():
    one, again = (_assignment(_hash_split(TRAIN, id_column="id", seed=1)) for _ in range(2))
    other = _assignment(_hash_split(TRAIN, id_column="id", seed=2))
    assert one == again and one != other


def test_without_an_id_column_the_row_number_is_hashed():
    a = _assignment(_hash_split(TRAIN))
    b = _assignment(_hash_split(TRAIN.assign(id=range(500, 600))))
    assert [a[i] for i in range(100)] == [b[i] for i in range(500, 600)]  # by position


def test_hash_split_errors_name_the_column_and_what_to_do():
    with pytest.raises(
        UserError, match="data.split.id_column: column 'user' is not in the training data"
    ):
        _hash_split(TRAIN, id_column="user")
    holes = TRAIN.assign(user=[None] + [f"u{i}" for i in range(99)])
    with pytest.raises(UserError, match=r"id_column 'user': row 1 has no id \(1 such rows\)"):
        _hash_split(holes, id_column="user")
    with pytest.raises(UserError, match=r"gave no (validation|test) rows among 2; use a larger"):
        _hash_split(TRAIN.head(2), id_column="id")


def test_config_checks_refuse_hash_settings_that_do_not_fit():
    from modelyard.config import validate
    from modelyard.errors import ConfigError

    base = {
        "inputs": [{"name": "x", "type": "number"}],
        "outputs": [{"name": "y", "type": "number"}],
    }
    with pytest.raises(ConfigError, match="data.split.id_column: applies to by: hash"):
        validate(base | {"data": {"split": {"id_column": "id"}}})
    with pytest.raises(ConfigError, match="column gives each row its split, by: hash computes one"):
        validate(base | {"data": {"split": {"column": "part", "by": "hash"}}})
