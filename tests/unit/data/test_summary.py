"""data.summary: rows per split and left out, class balance, missing values filled in."""

from __future__ import annotations

import numpy as np

from modelyard.config import validate
from modelyard.data.features import Preprocessing
from modelyard.data.summary import STREAMED_NOTE, UNSEEN, data_summary
from tests.conftest import make_table


def _preprocessing(output: str = "category", colour_missing: str = "unknown") -> Preprocessing:
    config = validate(
        {
            "data": {"train": "x.csv"},
            "inputs": [
                {"name": "x1", "type": "number", "preprocessing": {"missing": "fill_median"}},
                {"name": "x2", "type": "number", "preprocessing": {"missing": "drop"}},
                {
                    "name": "colour",
                    "type": "category",
                    "preprocessing": {"missing": colour_missing},
                },
                {"name": "review", "type": "text", "encoder": {"type": "mlp"}},
            ],
            "outputs": [{"name": "label", "type": output}],
        }
    )
    return Preprocessing(config)


def _tables(preprocessing: Preprocessing):
    train, test = make_table(60, seed=1), make_table(20, seed=2)
    train.loc[:4, "x1"] = np.nan  # 5 filled by the median
    train.loc[5:7, "x2"] = np.nan  # 3 dropped (missing: drop, training rows)
    train.loc[8:9, "label"] = None  # 2 dropped: no label
    test.loc[:1, "x2"] = np.nan  # filled (by the mean) outside training
    test.loc[2:4, "colour"] = None
    test.loc[5, "review"] = None
    test.loc[6:8, "label"] = "maybe"  # a class never seen in training
    preprocessing.fit(train)
    return {
        "test": preprocessing.prepare(test, "test"),
        "train": preprocessing.prepare(train, "train"),
    }, train


def test_rows_classes_and_filled_values_per_split():
    preprocessing = _preprocessing()
    tables, train = _tables(preprocessing)
    found = data_summary(preprocessing, tables)
    assert list(found["splits"]) == ["train", "test"]  # in split order
    assert found["splits"]["train"] == {
        "rows": 55,
        "left_out": {"missing 'x2'": 3, "no 'label' label": 2},
    }
    assert found["splits"]["test"] == {"rows": 20}
    kept = train.drop(index=range(5, 10))
    assert found["classes"]["label"]["train"] == kept["label"].value_counts().sort_index().to_dict()
    test_classes = found["classes"]["label"]["test"]
    assert test_classes[UNSEEN] == 3 and sum(test_classes.values()) == 20
    median = float(train.loc[~train.index.isin(range(5, 10)), "x1"].median())
    assert found["filled"]["x1"] == {"with": "median", "value": median, "rows": {"train": 5}}
    assert found["filled"]["x2"]["with"] == "mean" and found["filled"]["x2"]["rows"] == {"test": 2}
    assert found["filled"]["colour"] == {
        "with": "unknown",
        "value": "<unknown>",
        "rows": {"test": 3},
    }
    assert found["filled"]["review"] == {"with": "empty", "value": "", "rows": {"test": 1}}
    assert "note" not in found


def test_binary_output_and_mode_fill():
    preprocessing = _preprocessing("binary", colour_missing="fill_mode")
    tables, _ = _tables(preprocessing)
    found = data_summary(preprocessing, tables)
    assert list(found["classes"]["label"]["train"]) == ["no", "yes"]  # negative, positive
    assert found["classes"]["label"]["test"][UNSEEN] == 3
    assert found["filled"]["colour"]["with"] == "mode"
    assert found["filled"]["colour"]["value"] == preprocessing.inputs[2].mode


def test_streamed_training_rows_say_what_is_known():
    preprocessing = _preprocessing()
    tables, _ = _tables(preprocessing)
    streamed = {"rows": 1000, "left_out": {"no 'label' label": 4}}
    found = data_summary(preprocessing, {"test": tables["test"]}, streamed)
    assert list(found["splits"]) == ["train", "test"]
    assert found["splits"]["train"] == {"rows": 1000, "left_out": {"no 'label' label": 4}}
    assert list(found["classes"]["label"]) == ["test"] and found["note"] == STREAMED_NOTE
