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


def test_overwrite_replaces_previous_and_keeps_the_one_before(tmp_path) -> None:
    path = tmp_path / "checkpoint.pt"
    for epoch in (1, 2, 3):
        checkpoint.save_atomic({"epoch": epoch}, path)
    assert checkpoint.load(path) == {"epoch": 3}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt", "previous.pt"]
    assert checkpoint.load(tmp_path / "previous.pt") == {"epoch": 2}


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


def _cut_in_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_damaged_checkpoint_falls_back_to_the_previous_one(tmp_path, capsys) -> None:
    path = tmp_path / "last.pt"
    checkpoint.save_atomic(_state() | {"epoch": 1}, path)
    checkpoint.save_atomic(_state() | {"epoch": 2}, path)
    _cut_in_half(path)
    assert checkpoint.load(path)["epoch"] == 1
    assert "last.pt" in capsys.readouterr().err


@pytest.mark.parametrize(
    "damage", [_cut_in_half, lambda p: p.write_bytes(b""), lambda p: p.write_bytes(b"junk" * 9)]
)
def test_damaged_checkpoint_without_fallback_is_a_user_error_naming_it(tmp_path, damage) -> None:
    path = tmp_path / "last.pt"
    checkpoint.save_atomic(_state(), path)
    damage(path)
    with pytest.raises(UserError, match="last.pt' is damaged"):
        checkpoint.load(path)


def test_fingerprint_names_what_changed() -> None:
    data = {"x": torch.arange(6.0).view(3, 2), "y": torch.tensor([0, 1, 0])}
    snapshot = {"data": checkpoint.fingerprint(data), "total_steps": 30}
    checkpoint.check_resumable(snapshot, checkpoint.fingerprint(data), 30, "cosine")
    changed = {**data, "x": data["x"] + 1}
    with pytest.raises(UserError, match="changed: x;"):
        checkpoint.check_resumable(snapshot, checkpoint.fingerprint(changed), 30, "cosine")
    more = {k: torch.cat([v, v[:1]]) for k, v in data.items()}
    with pytest.raises(UserError, match="3 rows then, 4 now"):
        checkpoint.check_resumable(snapshot, checkpoint.fingerprint(more), 30, "constant")
    checkpoint.check_resumable(snapshot, checkpoint.fingerprint(data), 40, "constant")
    with pytest.raises(UserError, match=r"cosine schedule .*\(30 when it started, 40 now"):
        checkpoint.check_resumable(snapshot, checkpoint.fingerprint(data), 40, "cosine")
