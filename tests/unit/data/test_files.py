"""Image and audio files decoded batch by batch by DataLoader workers (data/files.py): the
in-memory source's batches bit for bit, whatever the number of workers; a file that cannot be
read is the in-memory path's user error; `auto` streams what would not fit."""

from __future__ import annotations

import multiprocessing

import pandas as pd
import pytest
import torch

from modelyard.config import validate
from modelyard.data import memory
from modelyard.data.augment import build_augmenters
from modelyard.data.features import Preprocessing
from modelyard.data.files import FileSource, streams_files
from modelyard.data.source import InMemorySource
from modelyard.errors import UserError
from modelyard.train.distributed import Processes
from tests.conftest import write_images

AUGMENT = {"image": {"random_crop": 2, "horizontal_flip": True}, "audio": {"time_masks": 2}}


def _prepared(tmp_path, kind: str = "image", augment: bool = True, rows: int = 21):
    """(preprocessing fitted on `rows` files of `kind`, their frame with absolute paths)."""
    if kind == "image":
        frame = write_images(tmp_path / "pics", count=rows, size=6)
        frame["image"] = [str(tmp_path / p) for p in frame["image"]]
        preprocessing = {}
    else:
        from tests.integration.test_audio import write_clips

        frame = write_clips(tmp_path / "clips", count=rows).rename(columns={"clip": "audio"})
        frame["audio"] = [str(tmp_path / p) for p in frame["audio"]]
        preprocessing = {"sample_rate": 8000, "n_mels": 8}
    if augment:
        preprocessing["augment"] = AUGMENT[kind]
    config = validate(
        {
            "name": "files",
            "inputs": [{"name": kind, "type": kind, "preprocessing": preprocessing}],
            "outputs": [{"name": "label", "type": "category"}],
        }
    )
    prep = Preprocessing(config)
    prep.fit(frame)
    return prep, frame


def _sources(prep, frame, workers: int) -> tuple[InMemorySource, FileSource]:
    augmenters = build_augmenters(prep)
    whole = prep.prepare(frame, "train")
    lazy = prep.prepare(frame, "train", lazy_files=True)
    assert list(lazy.tensors) == ["label"] and [f.name for f in lazy.lazy] == [prep.inputs[0].name]
    return (
        InMemorySource(whole.tensors, 4, seed=3, augmenters=augmenters),
        FileSource(lazy, lambda t: t, 4, seed=3, augmenters=augmenters, workers=workers),
    )


def _assert_same_batches(memory_source, file_source, epoch, procs, start_step=0) -> None:
    expected = list(memory_source.batches(epoch, procs, start_step))
    found = list(file_source.batches(epoch, procs, start_step))
    assert len(found) == len(expected) == memory_source.steps_per_epoch - start_step
    for (batch, share), (want, want_share) in zip(found, expected, strict=True):
        assert share == want_share and batch.keys() == want.keys()
        for name in want:
            assert batch[name].dtype == want[name].dtype
            assert torch.equal(batch[name], want[name]), name


@pytest.mark.filterwarnings("ignore:This DataLoader will create 3 worker processes")  # 2 cores
@pytest.mark.parametrize("augment", [True, False], ids=["augmented", "plain"])
@pytest.mark.parametrize("workers", [0, 1, 3])
def test_file_batches_are_the_in_memory_batches_bit_for_bit(tmp_path, workers, augment) -> None:
    """Same rows per step, same crops and flips (drawn from each step's seed), whatever the
    number of workers; for each process of two, and from a step within the epoch on."""
    prep, frame = _prepared(tmp_path, augment=augment)
    memory_source, file_source = _sources(prep, frame, workers)
    assert (file_source.rows, file_source.steps_per_epoch) == (21, 6)
    _assert_same_batches(memory_source, file_source, 2, Processes())
    _assert_same_batches(memory_source, file_source, 3, Processes(1, 2, 1), start_step=4)


def test_audio_batches_are_the_in_memory_batches_bit_for_bit(tmp_path) -> None:
    prep, frame = _prepared(tmp_path, kind="audio", rows=10)
    memory_source, file_source = _sources(prep, frame, workers=1)
    _assert_same_batches(memory_source, file_source, 1, Processes())


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_a_file_a_worker_cannot_read_is_the_user_error_of_memory(tmp_path, damage) -> None:
    """The message the in-memory path gives, naming the file and its row (not a worker's
    traceback text), and no worker left running."""
    prep, frame = _prepared(tmp_path)
    bad = tmp_path / "pics/13.png"
    bad.write_bytes(b"not a png") if damage == "corrupt" else bad.unlink()
    with pytest.raises(UserError) as in_memory:
        prep.prepare(frame, "train")
    lazy = prep.prepare(frame, "train", lazy_files=True)
    source = FileSource(lazy, lambda t: t, 4, seed=0, workers=2)
    with pytest.raises(UserError) as streamed:
        for _ in source.batches(1, Processes()):
            pass
    assert str(streamed.value) == str(in_memory.value)
    assert "13.png" in str(streamed.value) and "row 14" in str(streamed.value)
    assert "Traceback" not in str(streamed.value)
    assert multiprocessing.active_children() == []


def test_resume_fingerprint_names_the_paths_not_their_pixels(tmp_path) -> None:
    prep, frame = _prepared(tmp_path)
    source = FileSource(prep.prepare(frame, "train", lazy_files=True), lambda t: t, 4, 0)
    found = source.fingerprint()
    assert set(found) == {"image", "label"} and found["image"].startswith("(21,) paths ")
    reordered = FileSource(
        prep.prepare(frame.iloc[::-1], "train", lazy_files=True), lambda t: t, 4, 0
    )
    assert reordered.fingerprint()["image"] != found["image"]


def test_auto_streams_files_that_would_not_fit_comfortably(tmp_path, monkeypatch) -> None:
    """`auto` weighs rows x one decoded row (21 rows of 1x6x6 bytes here) against a quarter
    of the memory available; true and false are as written; no file inputs, no streaming."""
    prep, frame = _prepared(tmp_path)
    data = prep.config.data
    monkeypatch.setattr(memory, "available_bytes", lambda: 4 * 21 * 36)
    assert not streams_files(prep, data, [frame])
    monkeypatch.setattr(memory, "available_bytes", lambda: 4 * 21 * 36 - 1)
    assert streams_files(prep, data, [frame])
    assert streams_files(prep, data.model_copy(update={"streaming": True}), [frame])
    assert not streams_files(prep, data.model_copy(update={"streaming": False}), [frame])
    tabular = validate(
        {
            "name": "t",
            "inputs": [{"name": "x", "type": "number"}],
            "outputs": [{"name": "label", "type": "category"}],
            "data": {"streaming": True},
        }
    )
    table = pd.DataFrame({"x": [1.0, 2.0], "label": ["a", "b"]})
    assert not streams_files(Preprocessing(tabular), tabular.data, [table])
