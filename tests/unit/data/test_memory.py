"""data/memory.py: when `data.streaming: auto` streams, and how many workers read."""

from __future__ import annotations

from modelyard.data import memory


def test_auto_streams_only_what_would_not_fit_comfortably(monkeypatch) -> None:
    monkeypatch.setattr(memory, "available_bytes", lambda: 8 << 30)
    assert not memory.should_stream("auto", 1 << 30, "t")  # an eighth of what is free
    assert memory.should_stream("auto", 3 << 30, "t")  # more than a quarter
    assert memory.should_stream(True, 1, "t") and not memory.should_stream(False, 1 << 40, "t")


def test_workers_leave_a_core_to_training(monkeypatch) -> None:
    monkeypatch.setattr(memory.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert memory.worker_count("auto") == 1
    monkeypatch.setattr(memory.os, "sched_getaffinity", lambda pid: set(range(32)), raising=False)
    assert memory.worker_count("auto") == 4
    assert memory.worker_count(0) == 0


def test_the_training_process_leaves_the_workers_their_cores(monkeypatch) -> None:
    import torch

    before = torch.get_num_threads()
    monkeypatch.setattr(memory.os, "sched_getaffinity", lambda pid: set(range(4)), raising=False)
    try:
        torch.set_num_threads(4)
        memory.leave_cores_to_workers(0)
        assert torch.get_num_threads() == 4
        memory.leave_cores_to_workers(3)
        assert torch.get_num_threads() == 1
        memory.leave_cores_to_workers(1)  # never raised again
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_freed_memory_can_be_released() -> None:
    memory.release_freed_memory()  # glibc here: malloc_trim is found and runs
    assert memory._malloc_trim() is not None
