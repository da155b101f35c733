"""Sharding an epoch's order across processes, and the one-process no-ops."""

from __future__ import annotations

import pytest
import torch

from modelyard.train import distributed
from modelyard.train.distributed import Processes, shard


@pytest.mark.parametrize("rows", [1, 7, 9, 10])
@pytest.mark.parametrize("world", [1, 2, 3])
def test_shards_are_equal_and_cover_every_index(world, rows) -> None:
    order = torch.randperm(rows, generator=torch.Generator().manual_seed(rows))
    shards = [shard(order, Processes(rank, world, rank)) for rank in range(world)]
    assert len({len(s) for s in shards}) == 1
    assert len(shards[0]) == -(-rows // world)
    assert set(torch.cat(shards).tolist()) == set(range(rows))
    assert len(torch.cat(shards)) - rows < world  # padding repeats fewer than `world` rows


def test_one_process_keeps_the_order() -> None:
    order = torch.tensor([3, 1, 2, 0])
    assert torch.equal(shard(order, Processes()), order)


def test_single_process_helpers_are_no_ops(monkeypatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    procs = distributed.init("cpu")
    assert procs == Processes() and procs.is_main
    value = torch.tensor(2.5)
    assert distributed.mean_across(value, procs) is value
    distributed.barrier(procs)
    assert distributed.broadcast_flag(True, procs) is True
    assert not Processes(rank=1, world=2).is_main
