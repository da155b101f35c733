"""`check_data`: read, split and preprocess as training would, and summarise."""

from __future__ import annotations

import pandas as pd
import pytest

from modelyard.config import validate
from modelyard.data.check import check_data
from modelyard.errors import UserError


def config(**data):
    return validate(
        {
            "data": {"train": "train.csv", "split": {"column": "fold"}} | data,
            "inputs": [{"name": "x", "type": "number"}],
            "outputs": [{"name": "label", "type": "category"}],
        }
    )


@pytest.fixture
def folder(tmp_path):
    frame = pd.DataFrame(
        {
            "x": [1, 2, None, 4, 5, 6, 7, 8, 9],
            "label": ["a", "b", "a", "b", "a", "b", None, "c", "a"],
            "fold": ["train"] * 4 + ["validation"] * 3 + ["test"] * 2,
        }
    )
    frame.to_csv(tmp_path / "train.csv", index=False)
    return tmp_path


def test_summary_on_a_tiny_csv(folder):
    assert check_data(config(), folder) == [
        "train: 4 rows usable of 4",
        "validation: 2 rows usable of 3",
        "test: 2 rows usable of 2",
        "output 'label': 2 classes (a, b)",
        "preprocessing: train: x: filled 1 missing values with 2.33333",
        "preprocessing: validation: dropped 1 rows with no 'label' label",
        "preprocessing: test: label: 1 rows of classes not in the training data (e.g. 'c') count as errors",
        "data is valid",
    ]


def test_notes_are_listed_once(folder):
    lines = check_data(config(), folder)
    notes = [line for line in lines if line.startswith("preprocessing: ")]
    assert len(notes) == len(set(notes))


def test_no_training_file_in_the_config(folder):
    raw = config().model_dump()
    raw["data"]["train"] = None
    with pytest.raises(UserError, match="data.train: no training data given"):
        check_data(validate(raw), folder)


def test_missing_training_file(folder):
    with pytest.raises(UserError, match="train.csv' does not exist"):
        check_data(config(), folder / "elsewhere")


def test_bad_value_stops_the_check(folder):
    pd.DataFrame({"x": [1, "one", 3, 4], "label": ["a", "b", "a", "b"]}).to_csv(
        folder / "bad.csv", index=False
    )
    with pytest.raises(UserError, match="'one' is not a number"):
        check_data(config(train="bad.csv", split={"validation": 0.25, "test": 0}), folder)


def test_a_pretrained_encoder_is_checked_with_its_own_local_tokenizer(tmp_path):
    from tests.pretrained_fixtures import save_tiny_checkpoint

    save_tiny_checkpoint(tmp_path / "bert", "bert")
    frame = pd.DataFrame(
        {
            "review": ["the cat sat", "a dog ran", "great fine", "sad bad"] * 3,
            "label": list("ab") * 6,
        }
    )
    frame.to_csv(tmp_path / "train.csv", index=False)
    checked = validate(
        {
            "data": {"train": "train.csv"},
            "inputs": [
                {
                    "name": "review",
                    "type": "text",
                    "encoder": {"type": "pretrained", "model": "bert"},
                }
            ],
            "outputs": [{"name": "label", "type": "category"}],
        }
    )
    assert check_data(checked, tmp_path)[-1] == "data is valid"
