"""Training rows streamed from files (`data.streaming`), for tables larger than memory.

The unit of reading is a Parquet row group (a `Block`): those of a Parquet file, folder or
glob, or those of a Parquet copy of a CSV/TSV/JSON-lines file, written part by part into a
cache folder once (one Parquet file per `FIT_ROWS` rows: the text is parsed once, and any
block can then be read on its own).

    files --scan (one pass, file order)--> validation/test rows carved by hash or column
                                           training rows kept per block (counts)
                                           preprocessing fitted in parts (mergeable state)
    every epoch: blocks in a shuffled order --> windows of >= shuffle_buffer rows
                 --> rows shuffled within each window --> global batches --> this process's share

The epoch's order is a function of (seed, epoch) and the block counts alone, so it is the
same on every process and for any number of processes: a run resumed at step s (any process
count) reads exactly the rows from global position s * batch_size on. Each DataLoader worker
reads and preprocesses whole windows (worker w: windows w, w + W, ...; the loader returns
them in order), keeping only this process's rows of each global batch.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from modelyard.config.schema import Data, Split
from modelyard.data.columns import header_separator
from modelyard.data.features.base import FIT_ROWS
from modelyard.data.memory import leave_cores_to_workers, release_freed_memory
from modelyard.data.read import PARQUET_SUFFIXES, parquet_dataset, parquet_files
from modelyard.data.source import Tensors, epoch_generator, step_seed
from modelyard.data.split import carved_splits, column_splits, hash_splits, require_columns
from modelyard.errors import UserError
from modelyard.train import distributed
from modelyard.train.progress import log

TEXT_SUFFIXES = {".csv", ".tsv", ".jsonl", ".json"}
_STRING_BYTES = 64  # a string in a pandas column: the object and its characters, roughly


@dataclass(frozen=True)
class Block:
    """One Parquet row group: `rows` rows, the first being row `first_row` of the table."""

    index: int
    path: str
    row_group: int
    rows: int
    first_row: int


class TableFiles:
    """The row groups of a table given as a path (Parquet file, folder, glob; CSV, TSV or
    JSON lines through a Parquet copy in `cache`), read block by block, only the columns
    asked for. `file_columns` hold file paths, resolved relative to the table's folder."""

    def __init__(self, path: Path, data: Data, cache: Path, file_columns: Sequence[str] = ()):
        self.path = path
        self.file_columns = tuple(file_columns)
        self.base = path if path.is_dir() else path.parent
        files = parquet_files(path)
        if files is None:
            if not path.exists():
                raise UserError(f"data file '{path}' does not exist")
            if path.suffix.lower() in PARQUET_SUFFIXES:
                files = [path]
            elif path.suffix.lower() in TEXT_SUFFIXES:
                files = _parquet_copy(path, data, cache)
            else:
                raise UserError(
                    f"data '{path}': cannot stream '{path.suffix}' files; stream a Parquet, CSV, "
                    "TSV or JSON-lines table, or set data.streaming: false"
                )
        self.files = files
        self._dataset = parquet_dataset(files, path)
        self.columns = [str(c) for c in self._dataset.schema.names]
        self.blocks = self._blocks()
        self.rows = sum(b.rows for b in self.blocks)
        if self.rows == 0:
            raise UserError(f"data '{path}' has no rows")

    def _blocks(self) -> list[Block]:
        import pyarrow as pa

        blocks, first = [], 0
        self._partitions = {}  # path -> its hive partition (columns from folder names)
        for fragment in self._dataset.get_fragments():
            self._partitions[fragment.path] = fragment.partition_expression
            try:
                groups = fragment.row_groups
            except (pa.ArrowException, OSError) as e:
                raise UserError(
                    f"data file '{fragment.path}' is not a readable Parquet file ({e}); replace or remove it"
                ) from None
            for group in groups:
                blocks.append(Block(len(blocks), fragment.path, group.id, group.num_rows, first))
                first += group.num_rows
        return blocks

    def require(self, columns: dict[str, str]) -> None:
        """{column: who needs it}: a UserError naming the file and the column it lacks."""
        require_columns(self.columns, self.files[0] if len(self.files) == 1 else self.path, columns)

    def estimated_bytes(self) -> int:
        """What the whole table would take in memory as a DataFrame (8 bytes a number, about
        64 a string)."""
        import pyarrow as pa

        per_row = sum(
            8
            if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
            else _STRING_BYTES
            for t in self._dataset.schema.types
        )
        return self.rows * per_row

    def read(self, block: Block, columns: Sequence[str]) -> pd.DataFrame:
        """The block's rows (index: their row numbers in the table), `columns` only."""
        import pyarrow as pa
        import pyarrow.dataset as ds

        try:
            fragment = ds.ParquetFileFormat().make_fragment(
                block.path,
                filesystem=self._dataset.filesystem,
                partition_expression=self._partitions[block.path],
                row_groups=[block.row_group],
            )
            table = fragment.to_table(schema=self._dataset.schema, columns=list(columns))
        except (pa.ArrowException, OSError) as e:
            raise UserError(f"data file '{block.path}' could not be read: {e}") from None
        frame = table.to_pandas()
        frame.columns = [str(c) for c in frame.columns]
        frame.index = pd.RangeIndex(block.first_row, block.first_row + len(frame))
        for column in self.file_columns:
            if column in frame.columns:
                frame[column] = [_resolve(self.base, v) for v in frame[column]]
        return frame

    def identity(self) -> str:
        """The files and their row groups' sizes: what a resume checks it streams again."""
        described = [(Path(b.path).name, b.row_group, b.rows) for b in self.blocks]
        return hashlib.sha1(json.dumps(described).encode()).hexdigest()


def _resolve(base: Path, value: object) -> object:
    if not isinstance(value, str) or not value:
        return value
    p = Path(value)
    return str(p if p.is_absolute() else base / p)


def _parquet_copy(path: Path, data: Data, cache: Path) -> list[Path]:
    """A CSV/TSV/JSON-lines file written as Parquet files of FIT_ROWS rows each into `cache`
    (read with the config's separator, encoding and decimal mark, as in memory); reused when
    `cache` already holds the copy of this very file (same size and modification time)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    stat = path.stat()
    stamp = {"file": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    marker = cache / "source.json"
    if marker.is_file() and json.loads(marker.read_text()) == stamp:
        return sorted(cache.glob("part-*.parquet"))
    if cache.exists():
        for old in cache.glob("part-*.parquet"):
            old.unlink()
    cache.mkdir(parents=True, exist_ok=True)
    written = []
    for number, chunk in enumerate(_text_chunks(path, data)):
        target = cache / f"part-{number:06d}.parquet"
        pq.write_table(pa.Table.from_pandas(chunk, preserve_index=False), target)
        written.append(target)
    if not written:
        raise UserError(f"data file '{path}' has no rows")
    marker.write_text(json.dumps(stamp))
    log(f"data: '{path}' copied to Parquet in '{cache}' ({len(written)} parts) for streaming")
    return written


def _text_chunks(path: Path, data: Data) -> Iterator[pd.DataFrame]:
    """The file's rows, FIT_ROWS at a time, read as `read.read_table` reads them whole."""
    from modelyard.data.read import _encoding_problem

    suffix = path.suffix.lower()
    try:
        if suffix in (".jsonl", ".json"):
            reader = pd.read_json(path, lines=True, encoding=data.encoding, chunksize=FIT_ROWS)
        else:
            separator = data.separator or ("\t" if suffix == ".tsv" else ",")
            reader = pd.read_csv(
                path,
                sep=separator,
                encoding=data.encoding,
                decimal=data.decimal,
                chunksize=FIT_ROWS,
            )
        with reader:
            for number, chunk in enumerate(reader):
                chunk.columns = [str(c) for c in chunk.columns]
                if number == 0 and suffix not in (".jsonl", ".json"):
                    _check_header(path, data, chunk)
                yield chunk
    except UnicodeError:
        raise UserError(_encoding_problem(path, data.encoding)) from None
    except pd.errors.EmptyDataError:
        raise UserError(f"data file '{path}' has no rows") from None
    except (ValueError, OSError) as e:
        raise UserError(f"data file '{path}' could not be read: {e}") from None


def _check_header(path: Path, data: Data, chunk: pd.DataFrame) -> None:
    found = header_separator(list(chunk.columns))
    if data.separator is None and found is not None:
        raise UserError(
            f"data file '{path}' reads as one column '{chunk.columns[0]}': its fields look "
            f"{found[1]}-separated; set data.separator: {json.dumps(found[0])}"
        )


# ---------------------------------------------------------------- the scan


class TrainingRows:
    """Which rows of a block are training rows, and which of those training keeps: the split
    (by hash or column; None when the table is all training rows) and the preprocessing's
    rules for missing values. Picklable: DataLoader workers apply it to every block they read."""

    def __init__(self, preprocessing, split: Split | None, carved: list[str]):
        self.preprocessing = preprocessing
        self.split = split
        self.carved = carved

    def splits(self, frame: pd.DataFrame) -> np.ndarray:
        """(N,) object: each row's split name."""
        if self.split is None:
            return np.full(len(frame), "train", dtype=object)
        if self.split.column is not None:
            return column_splits(frame, self.split.column)
        return hash_splits(frame, self.split, self.carved, int(frame.index[0]) if len(frame) else 0)

    def kept(
        self, frame: pd.DataFrame, names: np.ndarray | None = None
    ) -> tuple[pd.DataFrame, dict]:
        """The block's training rows that training keeps, and {reason: rows} left out."""
        names = self.splits(frame) if names is None else names
        train = frame[names == "train"]
        if self.split is not None and self.split.column is not None:
            train = train.drop(columns=[self.split.column])
        if len(train) == 0:
            return train, {}
        kept, left_out = self.preprocessing.kept_rows(train, "train")
        self.preprocessing.notes = []
        return kept, left_out


@dataclass
class Scanned:
    """What one pass over the training files found."""

    counts: np.ndarray  # (blocks,) training rows kept in each block
    held_out: dict[str, pd.DataFrame]  # validation / test rows carved from the files
    left_out: dict[str, int]  # {reason: training rows left out}


def scan(files: TableFiles, rows: TrainingRows, columns: Sequence[str], fit: bool) -> Scanned:
    """One pass over every block in file order: the held-out rows, the training rows kept per
    block, and (with `fit`) the preprocessing fitted in parts of FIT_ROWS rows, the parts
    an in-memory fit of the same rows sees (`Preprocessing.fit`)."""
    preprocessing = rows.preprocessing
    counts = np.zeros(len(files.blocks), dtype=np.int64)
    held: dict[str, list[pd.DataFrame]] = {name: [] for name in rows.carved}
    left_out: dict[str, int] = {}
    parts = _Parts()
    if fit:
        preprocessing.start_fit()
    for block in files.blocks:
        frame = files.read(block, columns)
        names = rows.splits(frame)
        for name in rows.carved:
            held[name].append(frame[names == name])
        kept, left = rows.kept(frame, names)
        counts[block.index] = len(kept)
        for reason, n in left.items():
            left_out[reason] = left_out.get(reason, 0) + n
        if fit:
            for part in parts.add(kept):
                preprocessing.fit_part(part)
    if counts.sum() == 0:
        raise UserError("train data: no rows left after dropping rows with missing values")
    if fit:
        for part in parts.rest():
            preprocessing.fit_part(part)
        preprocessing.end_fit(lambda: _kept_again(files, rows, columns))
    held_out = {name: _concat(found, rows) for name, found in held.items()}
    return Scanned(counts, held_out, left_out)


def _kept_again(files: TableFiles, rows: TrainingRows, columns: Sequence[str]):
    """The training rows kept, block by block in file order, read once more (for features that
    learn from an iterator: `Preprocessing.end_fit`)."""
    for block in files.blocks:
        kept, _ = rows.kept(files.read(block, columns))
        if len(kept):
            yield kept


def _concat(frames: list[pd.DataFrame], rows: TrainingRows) -> pd.DataFrame:
    frame = pd.concat(frames) if frames else pd.DataFrame()
    if rows.split is not None and rows.split.column is not None and len(frame.columns):
        frame = frame.drop(columns=[rows.split.column])
    return frame


class _Parts:
    """Frames re-cut into consecutive parts of FIT_ROWS rows (the last one smaller)."""

    def __init__(self):
        self.frames: list[pd.DataFrame] = []
        self.rows = 0

    def add(self, frame: pd.DataFrame) -> Iterator[pd.DataFrame]:
        if len(frame):
            self.frames.append(frame)
            self.rows += len(frame)
        while self.rows >= FIT_ROWS:
            joined = pd.concat(self.frames) if len(self.frames) > 1 else self.frames[0]
            yield joined.iloc[:FIT_ROWS]
            rest = joined.iloc[FIT_ROWS:]
            self.frames, self.rows = ([rest] if len(rest) else []), len(rest)

    def rest(self) -> Iterator[pd.DataFrame]:
        if self.rows:
            yield pd.concat(self.frames)


# ---------------------------------------------------------------- the source


@dataclass(frozen=True)
class Window:
    """Consecutive blocks of an epoch's order, their rows shuffled together: global
    positions `start` .. `start + rows - 1` of the epoch."""

    number: int
    blocks: tuple[int, ...]
    start: int
    rows: int


class StreamSource:
    """Training batches streamed from `files` (a BatchSource, data/source.py).

    counts: (blocks,) training rows kept per block (`scan`). to_tensors: kept training rows
    (a DataFrame) -> {name: (n, ...)} tensors, inputs packed and targets, as the in-memory
    source holds them. Epoch `epoch` orders the blocks by (seed, epoch), groups them into
    windows of at least `buffer` rows and shuffles each window's rows by (seed, epoch,
    window); global batches of `batch_size` are cut from that order, and each process takes
    rows r, r + world, ... of each (as `distributed.share`)."""

    def __init__(
        self,
        files: TableFiles,
        rows: TrainingRows,
        counts: np.ndarray,
        columns: Sequence[str],
        to_tensors: Callable[[pd.DataFrame], Tensors],
        batch_size: int | str,
        seed: int,
        buffer: int,
        workers: int,
        augmenters: Sequence[Any] = (),
        device: torch.device | None = None,
    ):
        self.files, self.training_rows, self.counts = files, rows, counts
        self.columns, self.to_tensors = list(columns), to_tensors
        self.rows = int(counts.sum())
        self.batch_size = self.rows if batch_size == "full" else min(int(batch_size), self.rows)
        self.steps_per_epoch = -(-self.rows // self.batch_size)
        self.seed, self.buffer, self.workers = seed, buffer, workers
        self.augmenters = tuple(augmenters)
        self.device = device or torch.device("cpu")

    def to(self, device: torch.device) -> StreamSource:
        moved = copy.copy(self)
        moved.device = device
        return moved

    def fingerprint(self) -> dict[str, str]:
        counts = hashlib.sha1(self.counts.tobytes()).hexdigest()
        return {"streamed": f"({self.rows},) rows {self.files.identity()} {counts}"}

    def windows(self, epoch: int) -> list[Window]:
        """The epoch's windows, in order (a function of (seed, epoch) and the counts)."""
        order = torch.randperm(len(self.counts), generator=epoch_generator(self.seed, epoch))
        windows: list[Window] = []
        current: list[int] = []
        rows = start = 0
        for block in order.tolist():
            if self.counts[block] == 0:
                continue
            current.append(block)
            rows += int(self.counts[block])
            if rows >= self.buffer:
                windows.append(Window(len(windows), tuple(current), start, rows))
                start, current, rows = start + rows, [], 0
        if current:
            windows.append(Window(len(windows), tuple(current), start, rows))
        return windows

    def batches(
        self, epoch: int, procs: distributed.Processes, start_step: int = 0
    ) -> Iterator[tuple[Tensors, float]]:
        begin = start_step * self.batch_size
        todo = [w for w in self.windows(epoch) if w.start + w.rows > begin]
        reader = _WindowReader(self, todo, epoch, procs.rank, procs.world, begin)
        mine = _Rows(_load(reader, self.workers))
        stream = distributed.stream_seed(self.seed, procs.rank, epoch) if self.augmenters else 0
        generator = torch.Generator() if self.augmenters else None
        for step in range(start_step, self.steps_per_epoch):
            size = min(self.batch_size, self.rows - step * self.batch_size)
            count = len(range(procs.rank, size, procs.world))
            if count == 0:  # joins the all-reduce with one row that counts for nothing
                batch, share = mine.spare(), 0.0
            else:
                batch = mine.take(count)
                share = procs.world * count / size if procs.world > 1 else 1.0
            if generator is not None:
                generator.manual_seed(step_seed(stream, step))
                for augment in self.augmenters:
                    batch = augment(batch, generator)
            yield {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}, share


def window_order(seed: int, epoch: int, window: int, rows: int) -> torch.Tensor:
    """(rows,) the shuffle of one window's rows: a function of (seed, epoch, window) alone."""
    generator = torch.Generator().manual_seed(
        int(np.random.SeedSequence([seed, epoch, window]).generate_state(1)[0])
    )
    return torch.randperm(rows, generator=generator)


class _WindowReader(torch.utils.data.IterableDataset):
    """Yields, for each window in order, this process's rows of it as tensors, plus one spare
    row (the window's first from `begin` on); a DataLoader worker w of W takes windows
    w, w + W, ... A UserError met in a worker comes back as its message (`_Failure`)."""

    def __init__(
        self, source: StreamSource, windows, epoch: int, rank: int, world: int, begin: int
    ):
        self.source, self.windows, self.epoch = source, windows, epoch
        self.rank, self.world, self.begin = rank, world, begin

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        mine = self.windows if info is None else self.windows[info.id :: info.num_workers]
        for window in mine:
            try:
                yield self._read(window)
            except UserError as e:
                yield _Failure(str(e))
                return

    def _read(self, window: Window) -> tuple[Tensors, Tensors]:
        source = self.source
        frames = []
        for index in window.blocks:
            frame = source.files.read(source.files.blocks[index], source.columns)
            frames.append(source.training_rows.kept(frame)[0])
        rows = pd.concat(frames) if len(frames) > 1 else frames[0]
        if len(rows) != window.rows:
            raise UserError(
                f"data '{source.files.path}' changed while training (a block holds {len(rows)} training rows, not {window.rows}); restore it or start again"
            )
        order = window_order(source.seed, self.epoch, window.number, window.rows).numpy()
        position = window.start + np.arange(window.rows)
        mine = ((position % source.batch_size) % self.world == self.rank) & (position >= self.begin)
        chosen = order[mine]
        spare = order[np.flatnonzero(position >= self.begin)[:1]]
        wanted = np.concatenate([chosen, spare])
        # preprocess the rows wanted in file order (no shuffled copy of the frame), then
        # shuffle the tensors: far cheaper than taking the frame's rows in the window's order
        selected = np.zeros(len(rows), dtype=bool)
        selected[wanted] = True
        present = np.flatnonzero(selected)  # sorted
        frame = rows if len(present) == len(rows) else rows.iloc[present]
        tensors = source.to_tensors(frame)
        where = torch.from_numpy((np.cumsum(selected) - 1)[wanted])  # wanted -> row of frame
        count = len(chosen)
        return (
            {k: v[where[:count]] for k, v in tensors.items()},
            {k: v[where[count:]] for k, v in tensors.items()},
        )


@dataclass
class _Failure:
    message: str


def _load(reader: _WindowReader, workers: int) -> Iterator:
    """The reader's items in window order, read by `workers` DataLoader processes (0: here)."""
    if workers == 0 or len(reader.windows) <= 1:
        return iter(reader)
    from torch.utils.data import DataLoader

    workers = min(workers, len(reader.windows))
    leave_cores_to_workers(workers)
    # a generator of its own: the loader's seeding must not draw from the training process's
    # random stream (dropout), or a run resumed mid-epoch would draw differently
    loader = DataLoader(
        reader,
        batch_size=None,
        num_workers=workers,
        prefetch_factor=2,
        generator=torch.Generator().manual_seed(0),
    )
    return iter(loader)


class _Rows:
    """This process's rows of the epoch, window after window, taken `count` at a time."""

    def __init__(self, windows: Iterator):
        self.windows = windows
        self.pending: list[Tensors] = []
        self.ready = 0
        self.last_spare: Tensors | None = None

    def _pull(self) -> bool:
        item = next(self.windows, None)
        if item is None:
            return False
        if isinstance(item, _Failure):
            raise UserError(item.message)
        rows, spare = item
        release_freed_memory()  # the windows before it are gone: keep the heap flat
        if len(next(iter(spare.values()))):
            self.last_spare = spare
        count = len(next(iter(rows.values())))
        if count:
            self.pending.append(rows)
            self.ready += count
        return True

    def take(self, count: int) -> Tensors:
        while self.ready < count:
            if not self._pull():
                raise RuntimeError(f"the stream ended {count - self.ready} rows early")
        taken, need = [], count
        while need:
            head = self.pending[0]
            size = len(next(iter(head.values())))
            if size <= need:
                taken.append(self.pending.pop(0))
                need -= size
            else:
                taken.append({k: v[:need] for k, v in head.items()})
                self.pending[0] = {k: v[need:] for k, v in head.items()}
                need = 0
        self.ready -= count
        if len(taken) == 1:
            return taken[0]
        return {k: torch.cat([t[k] for t in taken]) for k in taken[0]}

    def spare(self) -> Tensors:
        while self.last_spare is None:
            if not self._pull():
                raise RuntimeError("the stream has no rows")
        return self.last_spare


def carve(split: Split, given: set[str]) -> tuple[Split | None, list[str]]:
    """How the streamed training files are split: (the split rule, or None when they are all
    training rows; the splits cut from them). A random split needs the whole table in memory."""
    if split.column is not None:
        return split, [n for n in ("validation", "test") if n not in given]
    carved = carved_splits(
        split, {name: (True if name in given else None) for name in ("validation", "test")}
    )
    if not carved:
        return None, []
    if split.by != "hash":
        raise UserError(
            "data.streaming: streamed training data cannot be split at random (that permutes "
            "the whole table in memory); set data.split.by: hash (with data.split.id_column if "
            "rows have ids), give data.validation and data.test files, or set data.streaming: false"
        )
    return split, carved


def splits_while_streaming(split: Split, given: set[str]) -> bool:
    """Whether streamed training rows can be split as `split` says (`carve` refuses)."""
    try:
        carve(split, given)
    except UserError:
        return False
    return True
