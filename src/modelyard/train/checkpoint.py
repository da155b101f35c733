"""Checkpoints for resume, written atomically (a crash mid-write never corrupts the last one)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from modelyard.errors import UserError


def save_atomic(state: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load(path: Path) -> dict[str, Any]:
    """Tensors and plain Python values only (`weights_only`): nothing pickled is executed."""
    if not path.is_file():
        raise UserError(f"no checkpoint to resume from at '{path}'; train without --resume")
    return torch.load(path, map_location="cpu", weights_only=True)
