"""Streamed training rows (data/stream.py): the fit, the split and the epoch's batches."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from modelyard.config import validate
from modelyard.config.schema import Data, Split
from modelyard.data.features import Preprocessing
from modelyard.data.features.base import FIT_ROWS
from modelyard.data.split import split_tables
from modelyard.data.stream import StreamSource, TableFiles, TrainingRows, carve, scan
from modelyard.errors import UserError
from modelyard.train.distributed import Processes

ROWS = 150_000  # more than two fit parts (base.FIT_ROWS), in row groups that do not align


def _table(rows: int = ROWS) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "size": rng.normal(5.0, 2.0, rows),
            "weight": rng.gamma(2.0, 3.0, rows).round(1),
            "age": rng.integers(0, 90, rows).astype(float),
            "colour": rng.choice(
                ["red", "green", "blue", "teal", "rare"], rows, p=[0.4, 0.3, 0.2, 0.0999, 0.0001]
            ),
            "city": rng.integers(0, 500, rows),
            "label": rng.choice(["yes", "no"], rows),
        }
    )
    frame.loc[rng.random(rows) < 0.02, "size"] = np.nan
    frame.loc[rng.random(rows) < 0.02, "age"] = np.nan
    frame.loc[rng.random(rows) < 0.01, "colour"] = None
    frame.loc[rng.random(rows) < 0.01, "label"] = None
    frame.loc[rng.random(rows) < 0.005, "weight"] = np.nan
    return frame


def _config(**data) -> dict:
    return {
        "name": "streamed",
        "data": {"split": {"by": "hash", "validation": 0.1, "test": 0.1}, **data},
        "inputs": [
            {"name": "size", "type": "number"},
            {
                "name": "weight",
                "type": "number",
                "preprocessing": {"missing": "drop", "normalization": "minmax"},
            },
            {"name": "age", "type": "number", "preprocessing": {"missing": "fill_median"}},
            {"name": "colour", "type": "category", "preprocessing": {"min_count": 50}},
            {"name": "city", "type": "category", "preprocessing": {"max_size": 100}},
        ],
        "outputs": [{"name": "label", "type": "binary"}],
    }


def _parquet(frame: pd.DataFrame, path, group_rows: int = 7_000):
    pq.write_table(
        pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=group_rows
    )
    return path


def _scanned(config, path, fit: bool = True):
    preprocessing = Preprocessing(config)
    files = TableFiles(path, config.data, path.parent / "cache")
    split, carved = carve(config.data.split, set())
    rows = TrainingRows(preprocessing, split, carved)
    columns = ["size", "weight", "age", "colour", "city", "label"]
    return files, rows, scan(files, rows, columns, fit=fit)


@pytest.mark.parametrize("form", ["parquet", "csv"])
def test_a_streamed_fit_is_identical_to_the_in_memory_fit(tmp_path, form) -> None:
    frame = _table()
    config = validate(_config())
    if form == "parquet":
        path = _parquet(frame, tmp_path / "table.parquet")
    else:
        path = tmp_path / "table.csv"
        frame.to_csv(path, index=False)
    in_memory = split_tables(
        {"train": pd.read_csv(path) if form == "csv" else frame, "validation": None, "test": None},
        config.data.split,
    )
    expected = Preprocessing(config)
    expected.fit(in_memory["train"])

    _, rows, scanned = _scanned(config, path)

    assert json.dumps(rows.preprocessing.state()) == json.dumps(expected.state())  # bit for bit
    for name in ("validation", "test"):
        assert scanned.held_out[name].index.equals(in_memory[name].index)
    kept, _ = expected.kept_rows(in_memory["train"], "train")
    assert scanned.counts.sum() == len(kept)
    assert scanned.left_out == {
        "missing 'weight'": int(in_memory["train"]["weight"].isna().sum()),
        "no 'label' label": int(
            (in_memory["train"]["label"].isna() & in_memory["train"]["weight"].notna()).sum()
        ),
    }


def _rows_source(
    tmp_path, rows: int = 1_000, group_rows: int = 37, fail_at: int | None = None, **options
) -> StreamSource:
    """A source whose only tensor is each row's number in the table, `y` missing in some rows."""
    frame = pd.DataFrame({"x": np.arange(rows, dtype=float), "y": np.arange(rows) % 7 * 1.0})
    frame.loc[frame.index % 11 == 5, "y"] = np.nan
    path = _parquet(frame, tmp_path / "rows.parquet", group_rows)
    config = validate(
        {
            "name": "rows",
            "inputs": [{"name": "x", "type": "number"}],
            "outputs": [{"name": "y", "type": "number"}],
        }
    )
    preprocessing = Preprocessing(config)
    files = TableFiles(path, config.data, tmp_path)
    training = TrainingRows(preprocessing, None, [])
    scanned = scan(files, training, ["x", "y"], fit=True)

    def to_tensors(kept: pd.DataFrame) -> dict[str, torch.Tensor]:
        if fail_at in kept.index:
            raise UserError(f"column 'x' row {fail_at + 1}: something is wrong")
        return {"row": torch.from_numpy(kept.index.to_numpy().copy())}

    settings = {"batch_size": 64, "seed": 5, "buffer": 100, "workers": 0, **options}
    return StreamSource(files, training, scanned.counts, ["x", "y"], to_tensors, **settings)


def _epoch(source: StreamSource, epoch: int, world: int = 1, start: int = 0):
    """Per process: the list of (rows, share) of each step."""
    return [
        [
            (b["row"].tolist(), share)
            for b, share in source.batches(epoch, Processes(rank, world), start)
        ]
        for rank in range(world)
    ]


def test_an_epoch_gives_every_kept_row_once_in_a_new_order_each_epoch(tmp_path) -> None:
    source = _rows_source(tmp_path)
    kept = [r for r in range(1_000) if r % 11 != 5]  # rows without a label are left out
    assert source.rows == len(kept) and source.steps_per_epoch == -(-len(kept) // 64)
    first, second = (_epoch(source, e)[0] for e in (1, 2))
    assert sorted(r for rows, _ in first for r in rows) == kept
    assert [len(rows) for rows, _ in first] == [64] * 14 + [len(kept) - 14 * 64]
    assert [r for rows, _ in first for r in rows] != [r for rows, _ in second for r in rows]
    assert _epoch(source, 1) == [first]  # (seed, epoch) alone decide


def test_the_processes_share_each_global_batch_whatever_their_number(tmp_path) -> None:
    source = _rows_source(tmp_path)
    (alone,) = _epoch(source, 3)
    for world in (2, 3):
        shares = _epoch(source, 3, world)
        assert {len(s) for s in shares} == {source.steps_per_epoch}  # the same number of steps
        for step, (rows, _) in enumerate(alone):
            together = [shares[rank][step] for rank in range(world)]
            assert sorted(r for mine, _ in together for r in mine) == sorted(rows)
            # DDP averages the processes' gradients: with each process's mean loss weighted
            # by its share, the average is the gradient of the global batch's mean loss
            for mine, share in together:
                assert share == pytest.approx(world * len(mine) / len(rows))


def test_a_process_without_rows_in_a_batch_joins_with_a_row_that_counts_for_nothing(
    tmp_path,
) -> None:
    source = _rows_source(tmp_path, rows=130, group_rows=10, batch_size=2)
    shares = _epoch(source, 1, world=3)
    last_rank = shares[2]
    assert all(share == 0.0 and len(rows) == 1 for rows, share in last_rank)


def test_a_resumed_epoch_reads_exactly_the_rows_not_yet_seen(tmp_path) -> None:
    source = _rows_source(tmp_path)
    (whole,) = _epoch(source, 2)
    for start in (1, 5, 13, 15):
        (resumed,) = _epoch(source, 2, start=start)
        assert resumed == whole[start:]
    two = _epoch(source, 2, world=2, start=7)
    assert [sorted(a + b) for (a, _), (b, _) in zip(*two, strict=True)] == [
        sorted(r) for r, _ in whole[7:]
    ]


def test_dataloader_workers_give_the_same_batches(tmp_path) -> None:
    source = _rows_source(tmp_path)
    expected = _epoch(source, 4, world=2)
    (tmp_path / "w").mkdir()
    assert _epoch(_rows_source(tmp_path / "w", workers=2), 4, world=2) == expected


def test_windows_hold_at_least_the_shuffle_buffer(tmp_path) -> None:
    source = _rows_source(tmp_path, buffer=200)
    windows = source.windows(1)
    assert all(w.rows >= 200 for w in windows[:-1])
    assert sum(w.rows for w in windows) == source.rows
    assert [w.start for w in windows] == list(np.cumsum([0] + [w.rows for w in windows[:-1]]))


def test_a_random_split_of_streamed_rows_is_refused_with_what_to_set() -> None:
    with pytest.raises(UserError, match="split.by: hash"):
        carve(Split(), set())
    assert carve(Split(), {"validation", "test"}) == (None, [])


def test_a_parquet_file_without_a_configured_column_is_named(tmp_path) -> None:
    path = _parquet(pd.DataFrame({"x": [1.0, 2.0]}), tmp_path / "t.parquet")
    files = TableFiles(path, Data(), tmp_path)
    with pytest.raises(UserError, match=r"t\.parquet' has no column 'y' \(output 'y'\)"):
        files.require({"x": "input 'x'", "y": "output 'y'"})


def test_a_damaged_parquet_file_in_a_folder_is_named(tmp_path) -> None:
    _parquet(pd.DataFrame({"x": [1.0, 2.0]}), tmp_path / "a.parquet")
    (tmp_path / "b.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(UserError, match=r"b\.parquet' is not a readable Parquet file"):
        TableFiles(tmp_path, Data(), tmp_path / "cache")


def test_a_csv_copy_is_reused_while_the_file_is_unchanged(tmp_path) -> None:
    path = tmp_path / "t.csv"
    pd.DataFrame({"x": range(10)}).to_csv(path, index=False)
    first = TableFiles(path, Data(), tmp_path / "cache")
    stamp = (tmp_path / "cache" / "part-000000.parquet").stat().st_mtime_ns
    TableFiles(path, Data(), tmp_path / "cache")
    assert (tmp_path / "cache" / "part-000000.parquet").stat().st_mtime_ns == stamp
    pd.DataFrame({"x": range(12)}).to_csv(path, index=False)
    assert TableFiles(path, Data(), tmp_path / "cache").rows == 12 and first.rows == 10


@pytest.mark.parametrize("workers", [0, 2])
def test_a_user_error_met_while_reading_comes_back_as_itself(tmp_path, workers) -> None:
    source = _rows_source(tmp_path, fail_at=700, workers=workers)
    with pytest.raises(UserError, match=r"^column 'x' row 701: something is wrong$"):
        _epoch(source, 1)


def test_a_tokenizer_is_trained_from_the_streamed_texts_as_from_the_whole_column(tmp_path) -> None:
    rng = np.random.default_rng(0)
    words = np.array(["alpha", "beta", "gamma", "delta", "kappa", "omega", "sigma", "tau"])
    rows = FIT_ROWS + 4_000  # two parts
    texts = [" ".join(rng.choice(words, 5)) + f" w{rng.integers(0, 900)}" for _ in range(rows)]
    frame = pd.DataFrame({"note": texts, "label": rng.choice(["a", "b"], rows)})
    config = validate(
        {
            "name": "texts",
            "data": {"split": {"validation": None, "test": None}},
            "inputs": [
                {
                    "name": "note",
                    "type": "text",
                    "encoder": {"type": "cnn"},
                    "preprocessing": {"tokenizer": "bpe", "vocab_size": 300},
                }
            ],
            "outputs": [{"name": "label", "type": "category"}],
        }
    )
    expected = Preprocessing(config)
    expected.fit(frame)
    path = _parquet(frame, tmp_path / "texts.parquet", group_rows=9_000)
    streamed = Preprocessing(config)
    files = TableFiles(path, config.data, tmp_path)
    scan(files, TrainingRows(streamed, None, []), ["note", "label"], fit=True)
    assert json.dumps(streamed.state()) == json.dumps(expected.state())
    assert len(json.loads(streamed.state()["note"]["tokenizer"])["model"]["vocab"]) == 300


def test_bow_ngrams_are_counted_from_the_streamed_texts_as_from_the_whole_column(tmp_path):
    rng = np.random.default_rng(1)
    words = np.array(["alpha", "beta", "gamma", "delta", "kappa", "omega"])
    rows = FIT_ROWS + 4_000  # two parts
    texts = [" ".join(rng.choice(words, 4)) + f" w{rng.integers(0, 900)}" for _ in range(rows)]
    frame = pd.DataFrame({"note": texts, "label": rng.choice(["a", "b"], rows)})
    config = validate(
        {
            "name": "texts",
            "data": {"split": {"validation": None, "test": None}},
            "inputs": [
                {"name": "note", "type": "text", "encoder": {"type": "bow", "max_ngrams": 500}}
            ],
            "outputs": [{"name": "label", "type": "category"}],
        }
    )
    expected = Preprocessing(config)
    expected.fit(frame)
    path = _parquet(frame, tmp_path / "texts.parquet", group_rows=9_000)
    streamed = Preprocessing(config)
    files = TableFiles(path, config.data, tmp_path)
    scan(files, TrainingRows(streamed, None, []), ["note", "label"], fit=True)
    assert json.dumps(streamed.state()) == json.dumps(expected.state())
    assert sum(len(kind) for kind in streamed.state()["note"]["grams"]) == 500
