"""Multi-process training under `torchrun` (gloo on CPU, nccl on GPU). One process otherwise.

trainer.strategy `ddp` replicates the model in every process (DistributedDataParallel);
`fsdp` shards it (FSDP2, `shard` below): each process keeps 1/N of every weight, and the
layers of a stack gather theirs just for their forward and backward passes.

A user error in one process ends them all: it says so in torchrun's key-value store (kept by
torchrun's agent, so it outlives the process), and the others, wherever they wait, see it and
exit with code 2 too; only the first error of the job is printed.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import json
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

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
        global _watcher
        _finished.clear()
        _watcher = threading.Thread(target=_exit_when_another_stops, daemon=True)
        _watcher.start()
        atexit.register(finish)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _on_sigterm)
    return Processes(dist.get_rank(), dist.get_world_size(), local_rank)


def finish() -> None:
    """Leave the job cleanly (at exit): stop the watcher thread, then tear the process group
    down. Left to the interpreter's finalisation, the group's teardown races the still-running
    watcher and can abort a process ("terminate called without an active exception") after
    the run was saved."""
    _finished.set()
    if _watcher is not None:
        _watcher.join(timeout=5)
    if dist.is_initialized():
        dist.destroy_process_group()


def _device() -> torch.device:
    """Where collectives' tensors must live: the GPU for nccl, the CPU for gloo."""
    return (
        torch.device("cuda", torch.cuda.current_device())
        if dist.get_backend() == "nccl"
        else torch.device("cpu")
    )


def share(batch: torch.Tensor, procs: Processes) -> tuple[torch.Tensor, float]:
    """This process's rows of one global batch `batch` (B,) and the factor for its mean loss.

    Rank r takes rows r, r + world, ...: the processes together take exactly the batch's
    rows, each once, however uneven the last batch of an epoch. Scaling a process's mean
    loss by world * its rows / B makes DDP's average of the processes' gradients the
    gradient of the batch's mean loss, as in one process. A process left without rows
    runs the batch's first row with factor 0, so that it still joins the all-reduce.
    """
    mine = batch[procs.rank :: procs.world]
    if len(mine) == 0:
        return batch[:1], 0.0
    return mine, procs.world * len(mine) / len(batch)


def stream_seed(seed: int, rank: int, epoch: int) -> int:
    """The seed of the random draws (dropout, augmentation, masking) of one process in one
    epoch: different for each rank, and the same again when a run resumes at `epoch`."""
    import numpy as np

    return int(np.random.SeedSequence([seed % 2**32, rank, epoch]).generate_state(1)[0])


def mean_across(value: torch.Tensor, procs: Processes) -> torch.Tensor:
    if procs.world > 1:
        value = value.clone()
        dist.all_reduce(value)
        value /= procs.world
    return value


def average_gradients(module: torch.nn.Module, procs: Processes) -> None:
    """Under torchrun: each of `module`'s gradients replaced by its mean over the processes
    (what DDP does in backward), for steps that call sub-networks around the DDP wrapper."""
    if procs.world == 1:
        return
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if grads:
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= procs.world
        for g, part in zip(grads, flat.split([g.numel() for g in grads]), strict=True):
            g.copy_(part.view_as(g))


def broadcast_buffers(module: torch.nn.Module, procs: Processes) -> None:
    """Under torchrun: rank 0's buffers (batch norm's running statistics) into every process,
    as DDP does before each forward."""
    if procs.world == 1:
        return
    for buffer in module.buffers():
        dist.broadcast(buffer, 0)


def barrier(procs: Processes) -> None:
    if procs.world > 1:
        dist.barrier()


def gather_objects(value, procs: Processes) -> list:
    """[value of rank 0, value of rank 1, ...] on every process (picklable values)."""
    if procs.world == 1:
        return [value]
    found = [None] * procs.world
    dist.all_gather_object(found, value)
    return found


def broadcast_object(value, procs: Processes):
    """Rank 0's `value` (picklable), on every process."""
    if procs.world == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def broadcast_flag(flag: bool, procs: Processes) -> bool:
    """Rank 0's decision, shared with every process."""
    if procs.world == 1:
        return flag
    t = torch.tensor([int(flag)], device=_device())
    dist.broadcast(t, 0)
    return bool(t.item())


# ------------------------------------------------------------ sharded models (fsdp)


def shard(model: torch.nn.Module, device: torch.device, procs: Processes) -> torch.nn.Module:
    """A copy of `model` sharded across the processes with FSDP2 (`fully_shard`) on `device`:
    first every layer of a stack (see `_stacked_layers`), then the root, so that a forward
    pass gathers one layer's weights at a time. `model` itself moves to the meta device,
    releasing its memory while the copy trains; `unshard_into` fills it again."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard, register_fsdp_forward_method

    sharded = copy.deepcopy(model)
    mesh = init_device_mesh(device.type, (procs.world,))
    for layer in reversed(_stacked_layers(sharded)):  # the innermost first
        fully_shard(layer, mesh=mesh)
        for method in getattr(layer, "forward_methods", ()):
            register_fsdp_forward_method(layer, method)
    fully_shard(sharded, mesh=mesh)
    model.to("meta")
    return sharded


def unshard_into(sharded: torch.nn.Module, model: torch.nn.Module, procs: Processes) -> None:
    """Give `model` (the module `shard` copied) the sharded copy's trained state, whole, on
    the copy's device, on every process; one tensor at a time, so that no process ever holds
    the model twice. A collective: every process calls it."""
    device = next(iter(sharded.parameters())).device
    model.to_empty(device=device)
    own = dict(model.named_buffers())
    for name, buffer in sharded.named_buffers():  # also those the state dict leaves out
        own[name].copy_(buffer)
    target = model.state_dict()
    for name, value in _whole_tensors(sharded, procs):
        target[name].copy_(value)


def _stacked_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The layers of every stack in `model`, outer ones first: the members of a ModuleList of
    two or more modules of one class that have weights (transformer blocks, a Hugging Face
    model's layers, the convolutions of a CNN). FSDP gathers a layer's weights when it is
    called; a layer whose other methods use its weights names them in `forward_methods`
    (a decoder block's cross-attention keys, computed once per source)."""
    layers = []
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) > 1:
            kinds = {type(m) for m in module}
            if len(kinds) == 1:
                layers += [m for m in module if any(True for _ in m.parameters())]
    return layers


def is_sharded(model: torch.nn.Module) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


def full_state(model: torch.nn.Module, procs: Processes) -> dict[str, torch.Tensor]:
    """`model`'s state dict as whole tensors on the CPU, the same on every process (see
    `_whole_tensors`). A collective for a sharded model: every process calls it."""
    return {name: value.to("cpu", copy=True) for name, value in _whole_tensors(model, procs)}


def _whole_tensors(model: torch.nn.Module, procs: Processes):
    """(name, tensor) of `model`'s state dict, whole, on its device, one at a time: a sharded
    weight is gathered (no device ever holds the whole model), and of a sharded model's
    buffers (batch-norm statistics, which FSDP does not synchronise) rank 0's are taken, as
    DDP does."""
    from torch.distributed.tensor import DTensor

    sharded = is_sharded(model) and procs.world > 1
    for name, value in model.state_dict().items():
        if isinstance(value, DTensor):
            value = value.full_tensor()
        elif sharded:
            value = value.detach().clone()
            dist.broadcast(value, 0)
        yield name, value.detach()


def load_full(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load whole tensors (`full_state`'s) into `model`, each process keeping its shard."""
    if not is_sharded(model):
        model.load_state_dict(state)
        return
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    whole = StateDictOptions(full_state_dict=True)
    set_model_state_dict(model, dict(state), options=whole)  # (it replaces the dict's values)


def local_tensor(value: torch.Tensor) -> torch.Tensor:
    """This process's part of a (sharded) tensor: the tensor itself when it is not sharded."""
    return value.to_local() if hasattr(value, "to_local") else value


@contextlib.contextmanager
def gradient_sync(wrapped: torch.nn.Module, sync: bool):
    """Within it, `wrapped` (DDP or FSDP) averages gradients across processes only when `sync`:
    an accumulation's micro-steps skip it (DDP's no_sync, FSDP's set_requires_gradient_sync)."""
    if sync:
        yield
    elif hasattr(wrapped, "no_sync"):
        with wrapped.no_sync():
            yield
    elif hasattr(wrapped, "set_requires_gradient_sync"):
        wrapped.set_requires_gradient_sync(False)
        try:
            yield
        finally:
            wrapped.set_requires_gradient_sync(True)
    else:
        yield


# ------------------------------------------------------------ one user error ends the job

_stopping = threading.Event()  # set once this process stops on a user error, its own or another's
_finished = threading.Event()  # set once this process's command has ended
_leaving = threading.Lock()  # held by the thread that ends the process
_watcher: threading.Thread | None = None  # runs _exit_when_another_stops


def _key(what: str) -> str:
    return f"modelyard/{what}/{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}"


def _store() -> dist.TCPStore:
    """torchrun's store (MASTER_ADDR:MASTER_PORT), as a client."""
    address, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
    return dist.TCPStore(address, port, is_master=False, timeout=timedelta(seconds=10))


def stop_on_user_error(message: str) -> None:
    """End this process with code 2, telling the others first. The job's first error is
    printed (once, not by every process) and written to torchrun's error file, so that
    torchrun's summary names it as the root cause."""
    _stopping.set()
    try:
        first = _store().add(_key("user_error"), 1) == 1
    except RuntimeError:  # no store to tell: print it here
        first = True
    if first:
        print(f"error: {message}", file=sys.stderr)
        _record(f"error: {message}", math.floor(time.time()))
    _leave()


def stop_if_another_stopped() -> None:
    """End this process with code 2 if another stopped on a user error: this process's
    failure (a broken collective) is only its consequence."""
    try:
        stopped = _store().check([_key("user_error")])
    except RuntimeError:  # the store is gone: torchrun is ending the job anyway
        return
    if stopped:
        _stopped_by_another()


def _exit_when_another_stops(every: float = 0.05) -> None:
    """A watcher thread: ends this process (code 2) once another reports a user error, even
    while it waits in a collective that would otherwise hang (nccl) until its timeout."""
    try:
        store = _store()
        while not store.check([_key("user_error")]):
            if _finished.wait(every):
                return
    except RuntimeError:
        return
    if not _stopping.is_set() and not _finished.is_set():  # its own report: it exits by itself
        _stopped_by_another()


def _stopped_by_another() -> None:
    # a later timestamp than the error's, so that torchrun names the error as the root cause
    _record("stopped: another process stopped on a user error", math.ceil(time.time()) + 1)
    _leave()


def _leave(wait: float = 3.0) -> None:
    """Exit with 2 once every process has decided to stop (or after `wait` seconds). Leaving
    together, no process is still running when torchrun, seeing the first exit, stops the
    rest; one it stops meanwhile exits with 2 too (`_on_sigterm`), not -15."""
    if not _leaving.acquire(blocking=False):  # the other thread of this process is leaving
        while True:
            time.sleep(1)
    _stopping.set()
    try:
        store, world = _store(), int(os.environ.get("WORLD_SIZE", "1"))
        store.add(_key("stopping"), 1)
        deadline = time.monotonic() + wait
        while store.add(_key("stopping"), 0) < world and time.monotonic() < deadline:
            time.sleep(0.01)
    except RuntimeError:  # the store is gone: torchrun is ending the job
        pass
    _exit(2)


def _on_sigterm(signum: int, frame) -> None:
    """torchrun stopping this process: with 2 if it is ending on a user error anyway,
    otherwise as SIGTERM always does."""
    if _stopping.is_set():
        _exit(2)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _record(message: str, timestamp: int) -> None:
    """What torchrun's summary shows for this process (its error file, when it has one)."""
    error_file = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if error_file:
        with open(error_file, "w", encoding="utf-8") as f:
            json.dump({"message": message, "timestamp": timestamp}, f)


def _exit(code: int) -> None:
    """Exit at once, without waiting for the process group's teardown, so that torchrun sees
    this exit code before it stops the process for the failure of another."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
