"""Image and audio inputs decoded batch by batch by DataLoader workers, not whole into memory.

When `data.streaming` is on (true, or auto with decoded files that would not fit comfortably
in memory), a split keeps its table (file paths, labels, other columns) and its other
features' tensors in memory, but its file inputs (image, audio: `Feature.from_file`) stay
files (`Table.lazy`). Training reads them through `FileSource`; validation, test, evaluate and
predict through `LazyInputs` (`evaluate.infer` hands those to it). Both run a torch DataLoader
whose `data.workers` processes each decode one batch (a list of rows) per item, and, for
training, augment it.

`FileSource` gives exactly `InMemorySource`'s batches, whatever the number of workers: the
same order (the epoch's permutation, global batches, each process's share, from any step on)
and each step's augmentation drawn from the same per-step seed (on the CPU). A file that
cannot be read is the same `error:` line naming the file and row as in memory: a worker hands
the message back rather than raising (DataLoader would wrap it in a traceback's text).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from modelyard.data.augment import Augmenter
from modelyard.data.memory import should_stream, worker_count
from modelyard.data.source import epoch_order, step_rows, step_seed
from modelyard.errors import UserError
from modelyard.train import checkpoint, distributed
from modelyard.train.progress import log

Tensors = dict[str, torch.Tensor]
Pack = Callable[[Tensors], Tensors]  # a batch's table tensors {name: (b, ...)} -> the model's
_PREFETCH = 4  # batches each worker decodes ahead


def streams_files(preprocessing: Any, data: Any, frames: Sequence[pd.DataFrame]) -> bool:
    """`data.streaming` resolved for the file inputs (image, audio) of `frames`, the splits to
    prepare (the training split first): False without file inputs; `auto` streams when their
    decoded tensors (all rows times one row's bytes, from decoding one file of each input)
    would not fit comfortably in memory (`memory.should_stream`)."""
    features = [f for f in preprocessing.inputs if f.from_file]
    if not features or data.streaming is False:
        return False
    rows = sum(len(frame) for frame in frames)
    per_row = sum(_row_bytes(f, frames[0]) for f in features) if data.streaming == "auto" else 0
    kinds = " and ".join(sorted({f.type for f in features}))
    if not should_stream(data.streaming, rows * per_row, f"the {kinds} files of {rows:,} rows"):
        return False
    workers = worker_count(data.workers)
    by = f"{workers} DataLoader worker process{'es' * (workers > 1)}" if workers else "this process"
    log(f"data: {kinds} files decoded batch by batch as they are needed, by {by} (data.workers)")
    return True


def _row_bytes(feature: Any, frame: pd.DataFrame) -> int:
    """Bytes of one row of `feature`'s decoded tensor (its first present file, decoded)."""
    from modelyard.data.features.base import is_missing

    series = feature.column_of(frame)
    present = series[~is_missing(series)]
    if present.empty:
        return 0
    one = feature.transform(present.iloc[:1])
    return one.element_size() * one.numel()


# ------------------------------------------------------------ what a worker does


@dataclass(frozen=True)
class _Item:
    """One batch to decode: its rows, this process's loss factor, its augmentation seed."""

    rows: np.ndarray  # (b,) positions among the split's kept rows
    share: float = 1.0  # distributed.share's factor
    seed: int | None = None  # step_seed of the step; None: no augmentation


@dataclass(frozen=True)
class _Failed:
    """A UserError met in a worker, carried back as its message."""

    message: str


class _Decoded(Dataset):
    """A map-style dataset: `_Item` -> (batch {name: (b, ...)}, share), or `_Failed`. The
    batch holds the rows of `tensors` (in memory) and of the file inputs `features`, decoded
    from `frame`'s paths, augmented when the item has a seed."""

    def __init__(
        self,
        tensors: Tensors,
        features: Sequence[Any],
        frame: pd.DataFrame,
        augmenters: Sequence[Augmenter] = (),
    ):
        self.tensors = tensors
        self.columns = {f.name: (f, f.column_of(frame)) for f in features}
        self.augmenters = tuple(augmenters)
        for feature, series in self.columns.values():  # what decoding imports, imported once
            feature.transform(series.iloc[:1])  # here: the forked workers then start with it

    def __getitem__(self, item: _Item) -> tuple[Tensors, float] | _Failed:
        index = torch.from_numpy(item.rows)
        batch = {name: t[index] for name, t in self.tensors.items()}
        try:
            for name, (feature, series) in self.columns.items():
                batch[name] = feature.transform(series.iloc[item.rows])
        except UserError as e:
            return _Failed(str(e))
        if item.seed is not None and self.augmenters:
            generator = torch.Generator().manual_seed(item.seed)
            for augment in self.augmenters:
                batch = augment(batch, generator)
        return batch, item.share


def _decoded_in_order(
    dataset: _Decoded, items: list[_Item], workers: int, device: torch.device
) -> Iterator[tuple[Tensors, float]]:
    """`dataset`'s items in order, decoded by `workers` DataLoader processes (0: here). A
    worker's user error is raised here as the UserError it was; the workers stop as soon as
    the iteration ends, on an error too."""
    from torch.utils.data import DataLoader

    loader = DataLoader(
        dataset,
        batch_size=None,
        sampler=items,
        num_workers=workers,
        collate_fn=_as_is,
        pin_memory=device.type == "cuda",
        prefetch_factor=_PREFETCH if workers else None,
        generator=torch.Generator(),  # its seed draw leaves the global random state alone
    )
    iterator = iter(loader)
    try:
        for found in iterator:
            if isinstance(found, _Failed):
                raise UserError(found.message)
            yield found
    finally:
        del iterator  # its workers end now, not when a traceback holding this frame is freed


def _as_is(item: Any) -> Any:
    return item


# ------------------------------------------------------------ training


class FileSource:
    """A `BatchSource` over a prepared split whose file inputs are `table.lazy`: the batches
    of `InMemorySource` over the same tensors (same rows per step, same augmentation),
    decoded by `workers` DataLoader processes. `pack` turns a batch's table tensors into the
    model's inputs and targets (as the in-memory source's tensors were packed)."""

    def __init__(
        self,
        table: Any,
        pack: Pack,
        batch_size: int | str,
        seed: int,
        augmenters: Sequence[Augmenter] = (),
        workers: str | int = 0,
        device: torch.device | None = None,
        row_weights: torch.Tensor | None = None,
        poisson: bool = False,
    ):
        self.table, self.pack, self.seed = table, pack, seed
        self.row_weights = row_weights  # as InMemorySource's
        self.poisson = poisson
        self.rows = len(table)
        self.batch_size = self.rows if batch_size == "full" else min(int(batch_size), self.rows)
        self.steps_per_epoch = -(-self.rows // self.batch_size)
        self.augmenters = tuple(augmenters)
        self.workers = worker_count(workers)
        self.device = device or torch.device("cpu")

    def to(self, device: torch.device) -> FileSource:
        moved = copy.copy(self)
        moved.device = device
        return moved

    def fingerprint(self) -> dict[str, str]:
        """The in-memory tensors' fingerprints, and each file input's paths' (not the files')."""
        found = checkpoint.fingerprint(self.table.tensors)
        for feature in self.table.lazy:
            paths = "\n".join(map(str, feature.column_of(self.table.frame)))
            digest = hashlib.sha1(paths.encode("utf-8")).hexdigest()
            found[feature.name] = f"({self.rows},) paths {digest}"
        return found

    def batches(
        self, epoch: int, procs: distributed.Processes, start_step: int = 0
    ) -> Iterator[tuple[Tensors, float]]:
        dataset = _Decoded(self.table.tensors, self.table.lazy, self.table.frame, self.augmenters)
        items = self._plan(epoch, procs, start_step)
        for batch, share in _decoded_in_order(dataset, items, self.workers, self.device):
            packed = self.pack(batch)
            yield {k: v.to(self.device, non_blocking=True) for k, v in packed.items()}, share

    def _plan(self, epoch: int, procs: distributed.Processes, start_step: int) -> list[_Item]:
        """`InMemorySource.batches`' steps of `epoch` from `start_step` on, as items: the rows
        of each global batch in the epoch's order, this process's share of them, and the
        step's augmentation seed from this process's stream."""
        order = None if self.poisson else epoch_order(self.rows, self.seed, epoch, self.row_weights)
        stream = distributed.stream_seed(self.seed, procs.rank, epoch)
        items = []
        for step in range(start_step, self.steps_per_epoch):
            index, share = step_rows(order, self, epoch, step), 1.0
            if procs.world > 1:
                index, share = distributed.share(index, procs)
            seed = step_seed(stream, step) if self.augmenters else None
            items.append(_Item(index.numpy(), share, seed))
        return items


# ------------------------------------------------------------ inference


class LazyInputs:
    """A prepared split's model inputs for `evaluate.infer`: the in-memory tensors of the
    inputs `names`, and the file inputs `table.lazy`, decoded batch by batch by `workers`
    DataLoader processes; `pack` makes a batch's tensors the model's inputs."""

    def __init__(self, table: Any, pack: Pack, names: Sequence[str], workers: str | int = 0):
        self.table, self.pack = table, pack
        self.memory = {n: table.tensors[n] for n in names if n in table.tensors}
        self.workers = worker_count(workers)

    def infer(
        self,
        model: torch.nn.Module,
        device: torch.device,
        bf16: bool,
        batch_size: int,
        compact: Any = None,
    ) -> Tensors:
        """{output: (N,) or (N, C)} float32 on the CPU: `evaluate.infer` over each batch of
        rows, in the batches (and so with the outputs) it would cut for the whole split;
        `compact` as there."""
        from modelyard.evaluate import _batches, infer

        rows = len(self.table)
        order, groups = (
            _batches(self.memory, batch_size)
            if self.memory
            else (torch.arange(rows), list(torch.split(torch.arange(rows), batch_size)))
        )
        dataset = _Decoded(self.memory, self.table.lazy, self.table.frame)
        items = [_Item(group.numpy()) for group in groups]
        decoded = _decoded_in_order(dataset, items, self.workers, device)
        chunks = [
            infer(model, self.pack(batch), device, bf16, batch_size, compact, row_ids=group)
            for group, (batch, _) in zip(groups, decoded, strict=True)
        ]
        back = torch.argsort(order)  # rows in their original order again
        return {name: torch.cat([c[name] for c in chunks])[back] for name in chunks[0]}
