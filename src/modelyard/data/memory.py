"""Whether data fit in memory, and how many DataLoader workers to use (`data.streaming`,
`data.workers`)."""

from __future__ import annotations

import functools
import os

# `streaming: auto` streams data whose in-memory size would exceed this share of the memory
# available when the run starts: the model, the optimizer and the other splits need the rest.
COMFORTABLE_SHARE = 0.25


def available_bytes() -> int:
    """Memory available to this process now (physical pages not in use), in bytes."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not on this platform: assume 8 GiB
        return 8 << 30


def too_large(estimated_bytes: int) -> bool:
    """Whether data of `estimated_bytes` in memory would not fit comfortably
    (`data.streaming: auto` streams them): more than COMFORTABLE_SHARE of what is available."""
    return estimated_bytes > COMFORTABLE_SHARE * available_bytes()


def should_stream(setting: str | bool, estimated_bytes: int, what: str) -> bool:
    """`data.streaming` resolved: True/False as written; `auto` streams when `estimated_bytes`
    (the data's size once in memory) is `too_large`, and says so."""
    from modelyard.train.progress import log

    if setting != "auto":
        return bool(setting)
    if not too_large(estimated_bytes):
        return False
    log(
        f"data: {what} would take about {estimated_bytes / 2**30:.1f} GiB in memory "
        f"({available_bytes() / 2**30:.1f} GiB available): streaming it (data.streaming: auto)"
    )
    return True


def worker_count(setting: str | int) -> int:
    """`data.workers` resolved: `auto` is the CPU cores this process may use, less one (the
    training process's), at most 4."""
    if setting != "auto":
        return int(setting)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(0, min(4, cores - 1))


def release_freed_memory() -> None:
    """Hand the memory this process has freed back to the system (glibc's `malloc_trim`).

    Measured: streaming a 50-million-row table, the training process's heap grew by about one
    batch per step once the epoch was a few thousand steps in (glibc keeps freed chunks in
    its arenas, fragmented by the batches and activations of each step), reaching gigabytes;
    trimming once per streamed window keeps it flat. No-op where glibc is absent."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl)
        return None


def leave_cores_to_workers(workers: int) -> None:
    """Lower the training process's own threads (torch's intra-op pool) to the cores that
    `workers` DataLoader processes leave free, at least one; a lower setting is kept.

    Measured on 2 cores, a 2-million-row table streamed by 1 worker: 390,000 rows/s with 2
    training threads fighting the worker for the cores, 670,000-800,000 with 1 (the in-memory
    source: 670,000-800,000)."""
    import torch

    if workers <= 0:
        return
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    free = max(1, cores - workers)
    if torch.get_num_threads() > free:
        torch.set_num_threads(free)
