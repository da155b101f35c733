"""Device choice and when bf16 autocast is used."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from modelyard.errors import UserError
from modelyard.train import precision
from modelyard.train.precision import autocast, pick_device, use_bf16

CPU = torch.device("cpu")


def test_fp32_never_and_bf16_always() -> None:
    assert use_bf16("fp32", CPU) is False
    assert use_bf16("fp32", torch.device("cuda", 0)) is False
    assert use_bf16("bf16", CPU) is True


@pytest.mark.parametrize("native", [True, False])
def test_auto_on_cpu_follows_native_bf16(monkeypatch, native) -> None:
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: native)
    assert use_bf16("auto", CPU) is native


@pytest.mark.parametrize("supported", [True, False])
def test_auto_on_cuda_asks_the_device(monkeypatch, supported) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: supported)
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: not supported)  # must not be consulted
    assert use_bf16("auto", torch.device("cuda", 0)) is supported


def test_cpu_has_bf16_reads_cpuinfo_flags() -> None:
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text() if cpuinfo.exists() else ""
    assert precision.cpu_has_bf16() is ("avx512_bf16" in flags or "amx_bf16" in flags)


def test_autocast_enabled_gives_bf16_matmul_on_cpu() -> None:
    a, b = torch.randn(4, 3), torch.randn(3, 2)
    with autocast(CPU, True):
        assert (a @ b).dtype == torch.bfloat16
        assert torch.nn.functional.linear(a, b.T).dtype == torch.bfloat16
    with autocast(CPU, False):
        assert (a @ b).dtype == torch.float32


def test_pick_device(monkeypatch) -> None:
    assert pick_device("cpu") == CPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("auto") == CPU
    with pytest.raises(UserError, match="no CUDA GPU"):
        pick_device("cuda", 1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("cuda", 1) == torch.device("cuda", 1)
    assert pick_device("auto", 2) == torch.device("cuda", 2)
