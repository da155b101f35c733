"""Messages about columns: a misspelt column gets "did you mean", duplicates are named."""

from __future__ import annotations

import pandas as pd
import pytest

from modelyard.config import validate
from modelyard.config.schema import Split
from modelyard.data.check import check_data
from modelyard.data.features import Preprocessing
from modelyard.data.split import split_tables
from modelyard.errors import UserError

CONFIG = {
    "name": "t",
    "inputs": [{"name": "temperature", "type": "number"}],
    "outputs": [{"name": "label", "type": "category"}],
}
FRAME = pd.DataFrame({"temprature": [1.0, 2.0, 3.0], "label": ["a", "b", "a"]})


def test_a_misspelt_input_column_gets_did_you_mean():
    with pytest.raises(
        UserError,
        match=r"input 'temperature': column 'temperature' is not in the data; did you mean 'temprature'\?; columns: temprature, label",
    ):
        Preprocessing(validate(CONFIG)).fit(FRAME)


def test_a_column_in_another_case_is_suggested():
    frame = FRAME.rename(columns={"temprature": "Temperature"})
    with pytest.raises(UserError, match=r"did you mean 'Temperature'\?"):
        Preprocessing(validate(CONFIG)).fit(frame)


def test_a_header_read_as_one_column_hints_at_the_separator():
    frame = pd.DataFrame({"temperature;label": ["1;a"]})
    with pytest.raises(UserError, match=r'semicolon-separated: set data.separator: ";"'):
        Preprocessing(validate(CONFIG)).fit(frame)


def test_misspelt_split_and_id_columns_get_did_you_mean(tmp_path):
    frame = FRAME.assign(fold="train", ident=range(3))
    with pytest.raises(UserError, match=r"data.split.column: .*did you mean 'fold'\?"):
        split_tables({"train": frame, "validation": None, "test": None}, Split(column="folds"))
    frame.rename(columns={"temprature": "temperature"}).to_csv(tmp_path / "d.csv", index=False)
    data = {"train": "d.csv", "id_columns": ["ident_"], "split": {"stratify": "none"}}
    config = validate({**CONFIG, "data": data})  # 3 rows: too few to stratify
    with pytest.raises(UserError, match=r"data.id_columns: .*did you mean 'ident'\?"):
        check_data(config, tmp_path)


def test_duplicate_column_names_are_named():
    frame = pd.concat([FRAME, FRAME[["label"]], FRAME[["temprature"]]], axis=1)
    frame = frame.rename(columns={"temprature": "temperature"})
    with pytest.raises(
        UserError,
        match=r"duplicate column names: 'temperature' \(2 times\), 'label' \(2 times\)",
    ):
        Preprocessing(validate(CONFIG)).fit(frame)


def test_a_data_file_without_a_configured_column_is_named(tmp_path):
    FRAME.to_csv(tmp_path / "d.csv", index=False)
    config = validate({**CONFIG, "data": {"train": "d.csv"}})
    with pytest.raises(
        UserError,
        match=r"d\.csv' has no column 'temperature' \(input 'temperature'\); did you mean 'temprature'\?",
    ):
        check_data(config, tmp_path)
