"""Checkpoints for resume, written atomically (a crash mid-write never corrupts the last one).

Each save first moves the current `last.pt` to `previous.pt`, so a checkpoint damaged later
(a disk error, a file cut short by a copy) still leaves one to fall back on. A checkpoint
also records what it was trained on (`fingerprint`, the schedule's total steps), so a resume
on other data, or with an epoch count that would bend the schedule, is refused.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import Any

import torch

from modelyard.errors import UserError
from modelyard.train.progress import log

PREVIOUS = "previous.pt"
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
    if not path.is_file():
        raise UserError(f"the checkpoint '{path}' is missing")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, EOFError, RuntimeError, KeyError, pickle.UnpicklingError) as e:
        raise UserError(
            f"the checkpoint '{path}' is damaged and cannot be read ({type(e).__name__}: {e}); "
            "start the run again (overwrite=True / --overwrite)"
        ) from None


def fingerprint(tensors: dict[str, torch.Tensor]) -> dict[str, str]:
    """{name: "shape dtype sha1"} of the training tensors (each (N, ...)): what a resume must match."""
    out = {}
    for name, tensor in sorted(tensors.items()):
        t = tensor.detach().cpu().contiguous()
        digest = hashlib.sha1(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        out[name] = f"{tuple(t.shape)} {t.dtype} {digest.hexdigest()}"
    return out


def check_resumable(
    snapshot: dict[str, Any], data: dict[str, str], total_steps: int, schedule: str
) -> None:
    """Refuse a resume whose training data differ from the checkpoint's, or whose new number
    of epochs would change the shape of a cosine or linear schedule."""
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
    before = snapshot.get("total_steps")
    if before is not None and before != total_steps and schedule in _SHAPED_BY_LENGTH:
        raise UserError(
            f"cannot resume (resume=True / --resume): the {schedule} schedule decays the learning rate over the run's total steps "
            f"({before} when it started, {total_steps} now: trainer.epochs or the number of processes "
            "changed), so its curve would jump; keep them as they were, use a constant or step "
            "schedule, or start again (overwrite=True / --overwrite)"
        )


def _rows(data: dict[str, str]) -> str:
    shapes = {v.split(")")[0].strip("(").split(",")[0] for v in data.values()}
    return "/".join(sorted(shapes))
