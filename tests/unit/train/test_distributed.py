"""Splitting a global batch across processes, per-rank random streams, one-process no-ops."""

from __future__ import annotations

import pytest
import torch

from modelyard.train import distributed
from modelyard.train.distributed import Processes, share, stream_seed


@pytest.mark.parametrize("rows", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("world", [1, 2, 3])
def test_shares_weight_every_row_of_the_batch_once(world, rows) -> None:
    """DDP averages the processes' scaled mean losses: that must be the batch's mean loss."""
    batch = torch.randperm(20, generator=torch.Generator().manual_seed(rows))[:rows]
    loss = torch.rand(20, generator=torch.Generator().manual_seed(world))  # per row
    shares = [share(batch, Processes(rank, world, rank)) for rank in range(world)]
    taken = torch.cat([index for index, factor in shares if factor > 0])
    assert sorted(taken.tolist()) == sorted(batch.tolist())
    assert all(len(index) > 0 for index, _ in shares)  # every process runs a forward pass
    ddp = sum(factor * loss[index].mean() for index, factor in shares) / world
    assert torch.isclose(ddp, loss[batch].mean(), atol=1e-6)


def test_stream_seeds_differ_by_rank_and_epoch_and_repeat() -> None:
    seeds = {stream_seed(42, rank, epoch) for rank in range(4) for epoch in range(1, 4)}
    assert len(seeds) == 12
    assert stream_seed(42, 1, 2) == stream_seed(42, 1, 2)
    assert stream_seed(-1, 0, 1) != stream_seed(1, 0, 1)


def test_single_process_helpers_are_no_ops(monkeypatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    procs = distributed.init("cpu")
    assert procs == Processes() and procs.is_main
    value = torch.tensor(2.5)
    assert distributed.mean_across(value, procs) is value
    distributed.barrier(procs)
    assert distributed.broadcast_flag(True, procs) is True
    assert not Processes(rank=1, world=2).is_main
