"""Where the training loop gets its batches: a `BatchSource`.

A source knows its rows (or not: a stream may not), how many global steps an epoch has, and
gives each process its share of every global batch, from any step of an epoch on (so that a
run can resume mid-epoch). Training-time augmentation is the source's, applied to each batch
after it is cut, from this process's own random stream.

`InMemorySource` holds every tensor in memory; a batch is an index into them (no DataLoader,
no per-sample Python), which keeps the loop's own overhead near that of a hand-written one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np
import torch

from modelyard.data.augment import Augmenter
from modelyard.train import checkpoint, distributed

Tensors = dict[str, torch.Tensor]


class BatchSource(Protocol):
    """Training batches for `train.loop.fit`.

    rows: the training rows N, or None when unknown (a stream).
    batch_size: rows per global step (all processes together).
    steps_per_epoch: global steps in one epoch (every process runs each of them).
    """

    rows: int | None
    batch_size: int
    steps_per_epoch: int

    def to(self, device: torch.device) -> BatchSource:
        """The source whose batches land on `device`."""
        ...

    def fingerprint(self) -> dict[str, str]:
        """What identifies the training data, for a resume to check against ({name: text})."""
        ...

    def batches(
        self, epoch: int, procs: distributed.Processes, start_step: int = 0
    ) -> Iterator[tuple[Tensors, float]]:
        """For each global step `start_step`, ... of `epoch` (1-based): this process's batch
        ({name: (b, ...)}, b its share of the global batch, at least 1 row) and the factor for
        its mean loss (DDP's average of the processes' gradients is then the gradient of the
        global batch's mean loss; 0 for a process without rows of its own, which runs one
        row only to join the all-reduce). The same (epoch, step, rank) gives the same batch."""
        ...


class InMemorySource:
    """Tensors {name: (N, ...)} (inputs and targets) in memory.

    Epoch `epoch` shuffles the rows by (seed, epoch) alone, the same on every process and on
    resume, and cuts global batches of `batch_size` ("full": all rows; the last batch may be
    smaller). Under torchrun each process takes rows r, r + world, ... of each global batch
    (`distributed.share`). `augmenters` change each training batch after it is cut.
    `row_weights` (N,): an epoch instead draws N rows with replacement, each with probability
    proportional to its weight (`epoch_order`). `poisson` (trainer.privacy): each step's
    batch is instead a Poisson sample (`poisson_rows`), of `batch_size` rows on average.
    """

    def __init__(
        self,
        tensors: Tensors,
        batch_size: int | str,
        seed: int,
        augmenters: Sequence[Augmenter] = (),
        row_weights: torch.Tensor | None = None,
        poisson: bool = False,
    ):
        self.tensors = tensors
        self.row_weights = row_weights
        self.poisson = poisson
        self.rows = len(next(iter(tensors.values())))
        self.batch_size = self.rows if batch_size == "full" else min(int(batch_size), self.rows)
        self.steps_per_epoch = -(-self.rows // self.batch_size)
        self.seed = seed
        self.augmenters = tuple(augmenters)
        self.device = next(iter(tensors.values())).device

    def to(self, device: torch.device) -> InMemorySource:
        moved = {name: t.to(device) for name, t in self.tensors.items()}
        return InMemorySource(
            moved, self.batch_size, self.seed, self.augmenters, self.row_weights, self.poisson
        )

    def fingerprint(self) -> dict[str, str]:
        return checkpoint.fingerprint(self.tensors)

    def batches(
        self, epoch: int, procs: distributed.Processes, start_step: int = 0
    ) -> Iterator[tuple[Tensors, float]]:
        order = None if self.poisson else epoch_order(self.rows, self.seed, epoch, self.row_weights)
        shared = procs.world > 1
        stream = distributed.stream_seed(self.seed, procs.rank, epoch) if self.augmenters else 0
        generator = torch.Generator(self.device) if self.augmenters else None
        share = 1.0
        for step in range(start_step, self.steps_per_epoch):
            index = step_rows(order, self, epoch, step).to(self.device)
            if shared:
                index, share = distributed.share(index, procs)
            batch = {name: t[index] for name, t in self.tensors.items()}
            if generator is not None:
                generator.manual_seed(step_seed(stream, step))
                for augment in self.augmenters:
                    batch = augment(batch, generator)
            yield batch, share


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The shuffle of epoch `epoch` depends on (seed, epoch) only: identical on every process and on resume."""
    return torch.Generator().manual_seed(seed * 100_003 + epoch)


def epoch_order(
    rows: int, seed: int, epoch: int, row_weights: torch.Tensor | None = None
) -> torch.Tensor:
    """(rows,) int64: the training rows of epoch `epoch` in order, from (seed, epoch) alone: a
    permutation, or with `row_weights` (rows,) a draw with replacement in proportion to them."""
    generator = epoch_generator(seed, epoch)
    if row_weights is None:
        return torch.randperm(rows, generator=generator)
    return torch.multinomial(row_weights, rows, replacement=True, generator=generator)


def step_rows(order: torch.Tensor | None, source, epoch: int, step: int) -> torch.Tensor:
    """(b,) int64: the rows of global step `step` of `epoch`: the `step`-th batch of the
    epoch's `order`, or (`order` None) the source's Poisson sample for that step."""
    if order is None:
        return poisson_rows(source.rows, source.steps_per_epoch, source.seed, epoch, step)
    return order[step * source.batch_size : (step + 1) * source.batch_size]


def poisson_rows(rows: int, steps: int, seed: int, epoch: int, step: int) -> torch.Tensor:
    """(b,) int64, sorted: a Poisson sample of `rows` rows, each row in it independently with
    probability 1 / `steps` (so b varies around rows / steps, and may be 0), from (seed,
    epoch, step) alone: the same on every process and on resume. The sampling DP-SGD's
    accountant assumes (Opacus' DPDataLoader draws the same way); a shuffle cut into batches
    would not be."""
    state = np.random.SeedSequence([seed % 2**32, epoch, step, 0x9015]).generate_state(2)
    generator = torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))
    return (torch.rand(rows, generator=generator) < 1.0 / steps).nonzero().squeeze(1)


def balanced_row_weights(labels: torch.Tensor) -> torch.Tensor:
    """(N,) float64: 1 / the rows of each row's class in `labels` (N,), so that every class
    is drawn as often (data.sampling: balanced)."""
    _, which, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    return 1.0 / counts.double()[which]


def step_seed(stream: int, step: int) -> int:
    """The augmentation seed of one step of a process's epoch stream (`distributed.stream_seed`):
    each step its own, so that a run resumed at a step draws what it drew there before."""
    return int(np.random.SeedSequence([stream, step]).generate_state(1)[0])
