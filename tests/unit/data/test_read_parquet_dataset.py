"""Parquet datasets: a folder of Parquet files (hive partitions included) or a glob pattern
reads as one table; a pattern matching nothing, a damaged file, files whose columns differ or
whose types cannot be combined are user errors naming the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from modelyard.data.read import read_data
from modelyard.errors import UserError


def _part(rows: int, start: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"x": np.arange(start, start + rows, dtype=float), "label": ["a", "b"] * (rows // 2)}
    )


def _read(path: Path) -> pd.DataFrame:
    return read_data(path, [], ["label"])


def test_a_glob_of_parquet_files_reads_as_one_table(tmp_path):
    _part(4, 0).to_parquet(tmp_path / "part-0.parquet")
    _part(6, 4).to_parquet(tmp_path / "part-1.parquet")
    (tmp_path / "notes.txt").write_text("not data", encoding="utf-8")
    frame = _read(tmp_path / "part-*.parquet")
    assert list(frame["x"]) == list(range(10))  # both files, in name order
    assert list(frame.columns) == ["x", "label"]


def test_a_folder_of_hive_partitions_gives_the_partition_column(tmp_path):
    for year, start in ((2023, 0), (2024, 4)):
        folder = tmp_path / "data" / f"year={year}"
        folder.mkdir(parents=True)
        _part(4, start).to_parquet(folder / "part.parquet")
    frame = _read(tmp_path / "data")
    assert sorted(frame["x"]) == list(range(8))
    assert sorted(set(frame["year"].astype(int))) == [2023, 2024]


def test_a_pattern_matching_nothing_is_named(tmp_path):
    with pytest.raises(
        UserError, match=r"data '.*/none-\*\.parquet': the pattern matches no files"
    ):
        _read(tmp_path / "none-*.parquet")


def test_a_pattern_matching_other_files_says_to_narrow_it(tmp_path):
    _part(2, 0).to_parquet(tmp_path / "a.parquet")
    (tmp_path / "b.csv").write_text("x,label\n1,a\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"'.*b\.csv' is not a Parquet file.*narrow it"):
        _read(tmp_path / "*")


def test_a_damaged_parquet_file_is_named(tmp_path):
    _part(2, 0).to_parquet(tmp_path / "a.parquet")
    (tmp_path / "b.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(UserError, match=r"data file '.*b\.parquet' is not a readable Parquet file"):
        _read(tmp_path / "*.parquet")


def test_files_with_different_columns_are_named(tmp_path):
    _part(2, 0).to_parquet(tmp_path / "a.parquet")
    _part(2, 2).drop(columns="x").to_parquet(tmp_path / "b.parquet")
    with pytest.raises(
        UserError,
        match=r"data files '.*a\.parquet' and '.*b\.parquet' do not have the same columns: "
        r"the second lacks column 'x'",
    ):
        _read(tmp_path / "*.parquet")


def test_column_types_that_cannot_be_combined_are_a_user_error(tmp_path):
    _part(2, 0).to_parquet(tmp_path / "a.parquet")
    _part(2, 2).assign(x=["one", "two"]).to_parquet(tmp_path / "b.parquet")
    with pytest.raises(UserError, match=r"the files' column types cannot be combined"):
        _read(tmp_path / "*.parquet")


def test_a_config_reads_a_parquet_folder_and_trains(tmp_path):
    from modelyard import Model

    folder = tmp_path / "table"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        x = rng.normal(size=40)
        pd.DataFrame({"x": x, "label": np.where(x > 0, "pos", "neg")}).to_parquet(
            folder / f"part-{i}.parquet"
        )
    config = {
        "data": {"train": "table", "split": {"validation": 0.25, "test": 0.0}},
        "inputs": [{"name": "x", "type": "number"}],
        "outputs": [{"name": "label", "type": "category"}],
        "trainer": {"epochs": 2},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    model = Model.from_config(tmp_path / "config.yaml").fit()
    assert model.metrics["validation"]["rows"] == 30  # a quarter of the 120 rows of 3 files
