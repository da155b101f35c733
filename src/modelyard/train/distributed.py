"""Multi-process training under `torchrun` (DDP: gloo on CPU, nccl on GPU). One process otherwise."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Processes:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init(device_name: str) -> Processes:
    """Join the process group torchrun set up (env WORLD_SIZE > 1); a no-op for one process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Processes()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        use_nccl = device_name != "cpu" and torch.cuda.is_available()
        if use_nccl:
            torch.cuda.set_device(local_rank)  # before any collective, so each rank has its own GPU
        dist.init_process_group("nccl" if use_nccl else "gloo")
    return Processes(dist.get_rank(), dist.get_world_size(), local_rank)


def _device() -> torch.device:
    """Where collectives' tensors must live: the GPU for nccl, the CPU for gloo."""
    return (
        torch.device("cuda", torch.cuda.current_device())
        if dist.get_backend() == "nccl"
        else torch.device("cpu")
    )


def shard(indices: torch.Tensor, procs: Processes) -> torch.Tensor:
    """This process's share of an epoch's shuffled indices; padded (repeating) so all shares are equal."""
    if procs.world == 1:
        return indices
    total = -(-len(indices) // procs.world) * procs.world
    # repeat the whole order, not just a prefix: there may be fewer rows than processes
    padded = indices.repeat(-(-total // len(indices)))[:total]
    return padded[procs.rank :: procs.world]


def mean_across(value: torch.Tensor, procs: Processes) -> torch.Tensor:
    if procs.world > 1:
        value = value.clone()
        dist.all_reduce(value)
        value /= procs.world
    return value


def barrier(procs: Processes) -> None:
    if procs.world > 1:
        dist.barrier()


def broadcast_flag(flag: bool, procs: Processes) -> bool:
    """Rank 0's decision, shared with every process."""
    if procs.world == 1:
        return flag
    t = torch.tensor([int(flag)], device=_device())
    dist.broadcast(t, 0)
    return bool(t.item())
