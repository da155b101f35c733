"""Device and precision choice: bf16 autocast where the hardware runs it natively."""

from __future__ import annotations

import contextlib
import functools

import torch


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        from modelyard.errors import UserError

        raise UserError(
            "trainer.device is cuda, but no CUDA GPU is available here; use auto or cpu"
        )
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


@functools.cache
def cpu_has_bf16() -> bool:
    """True when the CPU has native bf16 instructions (AVX512-BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def use_bf16(precision: str, device: torch.device) -> bool:
    if precision == "bf16":
        return True
    if precision == "auto":
        return torch.cuda.is_bf16_supported() if device.type == "cuda" else cpu_has_bf16()
    return False


def autocast(device: torch.device, bf16: bool):
    """Context manager for the forward pass: bf16 autocast, or nothing."""
    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)
