"""Checkpoints for resume, written atomically (a crash mid-write never corrupts the last one).

Each save first moves the current `last.pt` to `previous.pt`, so a checkpoint damaged later
(a disk error, a file cut short by a copy) still leaves one to fall back on. A checkpoint
also records what it was trained on (`fingerprint`, the schedule's total steps), so a resume
on other data, or with an epoch count that would bend the schedule, is refused.

A sharded model's (trainer.strategy fsdp) weights and optimizer state are not in `last.pt`:
every process writes its shards to a folder beside it (torch.distributed.checkpoint, DCP),
which `last.pt` names (`shards`). The folder is complete before `last.pt` names it, and a
folder stays as long as `last.pt` or `previous.pt` names it, so the fallback holds for both.
DCP reads the shards into any number of processes, so such a run resumes on 1, 2 or 3.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch

from modelyard.errors import UserError
from modelyard.train.progress import log

PREVIOUS = "previous.pt"
SHARDS = "shards-"  # prefix of the folders of sharded checkpoints, beside last.pt
# Schedules whose learning rate at a step depends on the run's total number of steps.
_SHAPED_BY_LENGTH = ("cosine", "linear")


def save_atomic(state: dict[str, Any], path: Path) -> None:
    """Write `state` to `path`; the checkpoint it replaces becomes `previous.pt` beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    if path.is_file():
        os.replace(path, path.with_name(PREVIOUS))
    os.replace(tmp, path)


def load(path: Path) -> dict[str, Any]:
    """Tensors and plain Python values only (`weights_only`): nothing pickled is executed.

    A damaged `path` falls back, with a logged note, to `previous.pt` beside it; a UserError
    names the file when neither can be read."""
    previous = path.with_name(PREVIOUS)
    if not path.is_file() and not previous.is_file():
        raise UserError(f"no checkpoint to resume from at '{path}'; train without --resume")
    try:
        return _read(path)
    except UserError as damaged:
        if not previous.is_file() or path.name == PREVIOUS:
            raise
        log(f"note: {damaged}; resuming from the checkpoint before it, '{previous}'")
        return _read(previous)


def _read(path: Path) -> dict[str, Any]:
    """The checkpoint at `path`; its `shards`, if any, as the path of their folder, checked."""
    if not path.is_file():
        raise UserError(f"the checkpoint '{path}' is missing")
    try:
        snapshot = torch.load(path, map_location="cpu", weights_only=True)
        if snapshot.get("shards") is not None:
            snapshot["shards"] = path.parent / snapshot["shards"]
            _check_shards(snapshot["shards"])
        return snapshot
    except (OSError, EOFError, RuntimeError, KeyError, pickle.UnpicklingError) as e:
        raise UserError(
            f"the checkpoint '{path}' is damaged and cannot be read ({type(e).__name__}: {e}); "
            "start the run again (overwrite=True / --overwrite)"
        ) from None


# ------------------------------------------------------------ sharded weights (fsdp)


def shards_name(epoch: int, position: int) -> str:
    """The folder of the shards saved after `epoch` epochs and `position` steps into the next."""
    return f"{SHARDS}{epoch}-{position}"


def save_sharded(model, optimizer, folder: Path, is_main: bool) -> None:
    """Every process writes its shards of the model's and optimizer's state to `folder` (DCP);
    a collective. A folder of that name (left by a run killed while writing it) goes first."""
    import torch.distributed as dist
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict

    together = dist.is_initialized()
    if is_main and folder.exists():
        shutil.rmtree(folder)
    if together:
        dist.barrier()
    weights, optimizer_state = get_state_dict(model, optimizer)
    state = {"model": weights, "optimizer": optimizer_state}
    with _one_process_quietly(together):
        dcp.save(state, checkpoint_id=folder, no_dist=not together)


def load_sharded(model, optimizer, folder: Path) -> None:
    """Read the shards in `folder` into `model` and `optimizer` (sharded or not, across any
    number of processes: DCP reshards); a collective."""
    import torch.distributed as dist
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

    weights, optimizer_state = get_state_dict(model, optimizer)
    state = {"model": weights, "optimizer": optimizer_state}
    together = dist.is_initialized()
    with _one_process_quietly(together):
        dcp.load(state, checkpoint_id=folder, no_dist=not together)
    set_state_dict(
        model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"]
    )


@contextlib.contextmanager
def _one_process_quietly(together: bool):
    """DCP warns that it assumes one process whenever it runs without a process group, even
    when told so (`no_dist`): in one process, that is what modelyard means."""
    with warnings.catch_warnings():
        if not together:
            warnings.filterwarnings("ignore", "torch.distributed is disabled", UserWarning)
        yield


def prune_shards(path: Path) -> None:
    """Remove the shard folders beside `path` that neither it nor `previous.pt` names (older
    ones, and one left half-written by a killed run). Leaves all if either cannot be read."""
    named = set()
    for checkpoint in (path, path.with_name(PREVIOUS)):
        if checkpoint.is_file():
            try:  # mmap: reads the small dict, not the tensors (best weights) beside it
                state = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
            except (OSError, EOFError, RuntimeError, KeyError, pickle.UnpicklingError):
                return
            named.add(state.get("shards"))
    for folder in path.parent.glob(f"{SHARDS}*"):
        if folder.name not in named:
            shutil.rmtree(folder, ignore_errors=True)


def _check_shards(folder: Path) -> None:
    """Raise OSError unless `folder` holds the metadata of DCP shards and every file it lists.
    The metadata is a pickle that DCP loads as it is: it is read here first with only the
    classes such metadata is made of, so nothing else pickled is ever executed."""
    metadata = folder / ".metadata"
    if not metadata.is_file():
        raise OSError(f"its shards '{folder}' are missing")
    with metadata.open("rb") as f:
        found = _MetadataUnpickler(f).load()
    missing = sorted(
        {i.relative_path for i in found.storage_data.values()} - {p.name for p in folder.iterdir()}
    )
    if missing:
        raise OSError(f"its shards in '{folder}' lack {', '.join(missing)}")


class _MetadataUnpickler(pickle.Unpickler):
    """Unpickles DCP metadata, refusing every global but the few it is made of."""

    _ALLOWED = {
        ("torch.distributed.checkpoint.metadata", name)
        for name in (
            "Metadata",
            "TensorStorageMetadata",
            "BytesStorageMetadata",
            "ChunkStorageMetadata",
            "TensorProperties",
            "MetadataIndex",
            "StorageMeta",
            "_MEM_FORMAT_ENCODING",
        )
    } | {
        ("torch.distributed.checkpoint.filesystem", "_StorageInfo"),
        ("torch.serialization", "_get_layout"),
        ("torch", "Size"),
        ("pathlib", "PosixPath"),
        ("pathlib", "WindowsPath"),
        ("pathlib", "PurePosixPath"),
        ("collections", "OrderedDict"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        raise pickle.UnpicklingError(f"'{module}.{name}' has no place in checkpoint metadata")


def random_state(device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    """This process's random state: its CPU generator's, and its GPU's when it trains on one."""
    gpu = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return torch.get_rng_state(), gpu


def restore_random(snapshot: dict[str, Any], procs, device: torch.device) -> None:
    """Each process gets its own random states back (`rngs`, `cuda_rngs`: one per process);
    with another number of processes, each continues with rank 0's (the rows are still
    exactly the unseen ones). `rng`: the CPU state of checkpoints from before."""

    def own(states: list) -> torch.Tensor:
        return states[procs.rank] if len(states) == procs.world else states[0]

    torch.set_rng_state(own(snapshot.get("rngs") or [snapshot["rng"]]))
    if snapshot.get("cuda_rngs") and device.type == "cuda":
        torch.cuda.set_rng_state(own(snapshot["cuda_rngs"]), device)


def fingerprint(tensors: dict[str, torch.Tensor]) -> dict[str, str]:
    """{name: "shape dtype sha1"} of the training tensors (each (N, ...)): what a resume must match."""
    out = {}
    for name, tensor in sorted(tensors.items()):
        t = tensor.detach().cpu().contiguous()
        digest = hashlib.sha1(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        out[name] = f"{tuple(t.shape)} {t.dtype} {digest.hexdigest()}"
    return out


def check_resumable(
    snapshot: dict[str, Any],
    data: dict[str, str],
    total_steps: int,
    schedule: str,
    epochs: int | None = None,
) -> None:
    """Refuse a resume whose training data differ from the checkpoint's, or whose new number
    of `epochs` would change the shape of a cosine or linear schedule, or is fewer than the
    checkpoint has completed. `epochs` equal to the completed ones finishes the run without
    more training, whatever the schedule."""
    saved = snapshot.get("data")
    if saved is not None and saved != data:
        changed = sorted(k for k in set(saved) | set(data) if saved.get(k) != data.get(k))
        rows = {_rows(saved), _rows(data)}
        what = (
            f"{_rows(saved)} rows then, {_rows(data)} now"
            if len(rows) > 1
            else f"same number of rows, {_rows(data)}"
        )
        raise UserError(
            f"cannot resume (resume=True / --resume): the training data differ from those the checkpoint was trained on "
            f"(changed: {', '.join(changed)}; {what}); resume with the same data, or start again (overwrite=True / --overwrite)"
        )
    done = snapshot.get("state", {}).get("epoch", 0)
    if epochs is not None and epochs < done:
        raise UserError(
            f"cannot resume (resume=True / --resume): the checkpoint has completed {done} epochs, "
            f"more than trainer.epochs: {epochs}; set trainer.epochs: {done} to finish the run with "
            f"what it has trained (no more training), or more to go on"
        )
    if epochs is not None and epochs == done:
        return  # finishing: no step left, so the schedule's shape no longer matters
    before = snapshot.get("total_steps")
    if before is not None and before != total_steps and schedule in _SHAPED_BY_LENGTH:
        raise UserError(
            f"cannot resume (resume=True / --resume): the {schedule} schedule decays the learning rate over the run's total steps "
            f"({before} when it started, {total_steps} now: trainer.epochs changed), so its curve "
            f"would jump; keep trainer.epochs as it was, set it to the {done} epochs done to finish "
            "the run now, use a constant or step schedule, or start again (overwrite=True / --overwrite)"
        )


def _rows(data: dict[str, str]) -> str:
    shapes = {v.split(")")[0].strip("(").split(",")[0] for v in data.values()}
    return "/".join(sorted(shapes))
