"""Atomic checkpoint writes and safe loads."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from modelyard.errors import UserError
from modelyard.train import checkpoint, distributed


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


def test_a_resume_with_the_epochs_done_finishes_whatever_the_schedule() -> None:
    data = checkpoint.fingerprint({"x": torch.arange(6.0).view(3, 2)})
    snapshot = {"data": data, "total_steps": 30, "state": {"epoch": 2}}
    checkpoint.check_resumable(snapshot, data, 20, "cosine", epochs=2)  # finish: no refusal
    with pytest.raises(UserError, match="completed 2 epochs, more than trainer.epochs: 1"):
        checkpoint.check_resumable(snapshot, data, 10, "constant", epochs=1)
    with pytest.raises(UserError, match="set it to the 2 epochs done to finish"):
        checkpoint.check_resumable(snapshot, data, 40, "linear", epochs=4)


def _trained(seed: int) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    """A tiny model and its Adam optimizer, after one step (so the optimizer has state)."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.randn(5, 3)).sum().backward()
    optimizer.step()
    optimizer.zero_grad()
    return model, optimizer


def test_sharded_state_round_trip_in_one_process(tmp_path) -> None:
    """DCP shards (trainer.strategy fsdp) hold the weights and the optimizer's state; read
    into another model and optimizer, both continue exactly as the saved ones."""
    model, optimizer = _trained(0)
    checkpoint.save_sharded(model, optimizer, tmp_path / "shards-1-0", is_main=True)
    other, other_optimizer = _trained(1)
    checkpoint.load_sharded(other, other_optimizer, tmp_path / "shards-1-0")
    for name, value in model.state_dict().items():
        assert torch.equal(other.state_dict()[name], value), name
    for m, o in ((model, optimizer), (other, other_optimizer)):
        m(torch.ones(2, 3)).sum().backward()
        o.step()  # Adam's moments decide this step
    for name, value in model.state_dict().items():
        assert torch.equal(other.state_dict()[name], value), name


def test_shards_whose_metadata_holds_other_objects_are_refused_unrun(tmp_path) -> None:
    """DCP reads its metadata with plain pickle; modelyard reads it first allowing only what
    such metadata is made of, so a planted file is reported damaged before anything runs."""
    model, optimizer = _trained(0)
    shards = tmp_path / "shards-1-0"
    checkpoint.save_sharded(model, optimizer, shards, is_main=True)
    checkpoint.save_atomic({"shards": shards.name}, tmp_path / "last.pt")
    marker = tmp_path / "ran"
    (shards / ".metadata").write_bytes(pickle.dumps(_Planted(marker)))
    with pytest.raises(UserError, match="last.pt' is damaged.*pathlib.Path.touch"):
        checkpoint.load(tmp_path / "last.pt")
    assert not marker.exists()


class _Planted:
    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return Path.touch, (self.path,)


def test_pruning_keeps_the_shards_last_and_previous_name(tmp_path) -> None:
    model, optimizer = _trained(0)
    for epoch in (1, 2, 3):
        shards = checkpoint.shards_name(epoch, 0)
        checkpoint.save_sharded(model, optimizer, tmp_path / shards, is_main=True)
        checkpoint.save_atomic({"shards": shards}, tmp_path / "last.pt")
    (tmp_path / "shards-3-5").mkdir()  # left half-written by a killed run
    checkpoint.prune_shards(tmp_path / "last.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "last.pt",
        "previous.pt",
        "shards-2-0",
        "shards-3-0",
    ]


def test_each_process_resumes_with_its_own_gpu_random_state(monkeypatch) -> None:
    """A checkpoint keeps every process's GPU random state (not rank 0's for all): rank 1 of 2
    gets its own back; with another number of processes, each continues with rank 0's."""
    gpu_states = [torch.tensor([10], dtype=torch.uint8), torch.tensor([11], dtype=torch.uint8)]
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device: gpu_states[device.index])
    saved = [checkpoint.random_state(torch.device("cuda", rank)) for rank in (0, 1)]
    snapshot = {"rngs": [cpu for cpu, _ in saved], "cuda_rngs": [gpu for _, gpu in saved]}
    restored = []
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda s, device: restored.append((s, device)))
    checkpoint.restore_random(snapshot, distributed.Processes(1, 2, 1), torch.device("cuda", 1))
    checkpoint.restore_random(snapshot, distributed.Processes(2, 3, 2), torch.device("cuda", 2))
    on_cpu = torch.device("cpu")  # no GPU: its state is left alone
    checkpoint.restore_random(snapshot, distributed.Processes(1, 2, 1), on_cpu)
    assert restored == [
        (gpu_states[1], torch.device("cuda", 1)),
        (gpu_states[0], torch.device("cuda", 2)),
    ]
