"""Atomic checkpoint writes and safe loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from modelyard.errors import UserError
from modelyard.train import checkpoint


def _state() -> dict:
    return {
        "model": {"w": torch.arange(6.0).view(2, 3), "n": torch.tensor(3)},
        "history": [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}],
        "best": None,
        "rng": torch.get_rng_state(),
    }


def test_round_trip_and_no_tmp_left(tmp_path) -> None:
    path = tmp_path / "deep" / "run" / "checkpoint.pt"
    checkpoint.save_atomic(_state(), path)
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint.pt"]
    loaded = checkpoint.load(path)
    assert torch.equal(loaded["model"]["w"], _state()["model"]["w"])
    assert loaded["model"]["n"].item() == 3
    assert loaded["history"] == _state()["history"]
    assert loaded["best"] is None
    assert torch.equal(loaded["rng"], _state()["rng"])


def test_overwrite_replaces_previous(tmp_path) -> None:
    path = tmp_path / "checkpoint.pt"
    checkpoint.save_atomic({"epoch": 1}, path)
    checkpoint.save_atomic({"epoch": 2}, path)
    assert checkpoint.load(path) == {"epoch": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]


def test_failed_write_keeps_previous(tmp_path, monkeypatch) -> None:
    path = tmp_path / "checkpoint.pt"
    checkpoint.save_atomic({"epoch": 1}, path)

    def broken_save(state, target):
        Path(target).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        checkpoint.save_atomic({"epoch": 2}, path)
    monkeypatch.undo()
    assert checkpoint.load(path) == {"epoch": 1}


def test_missing_checkpoint_is_a_user_error(tmp_path) -> None:
    with pytest.raises(UserError, match="no checkpoint"):
        checkpoint.load(tmp_path / "nothing.pt")


def test_load_refuses_arbitrary_objects(tmp_path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"obj": _Custom()}, path)
    with pytest.raises(Exception, match="(?i)weights_only|unsupported|global"):
        checkpoint.load(path)


class _Custom:
    pass
