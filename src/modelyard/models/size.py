"""How large a model is: its parameters (all, and those training updates) and the bytes of
its weights as saved, per dtype. Logged when training starts, kept in model/meta.json and
shown in the report's header."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def model_size(module: nn.Module, tensors: dict[str, Any] | None = None) -> dict[str, Any]:
    """{"parameters": N, "trainable": M (requires_grad: frozen layers of a pretrained encoder
    and LoRA's base weights not counted), "bytes": B, "bytes_per_dtype": {dtype: bytes}}.

    Bytes are those of `tensors` (default the module's state dict: the weights file's
    tensors, buffers included), each storage counted once (tied weights); a pretrained
    backbone saved to backbones/ is counted as it is held in memory."""
    parameters = {id(p): p for p in module.parameters()}.values()
    found: dict[str, int] = {}
    seen: set[tuple[int, int]] = set()
    for value in (module.state_dict() if tensors is None else tensors).values():
        if not isinstance(value, torch.Tensor):  # a quantized layer's packed parameters
            continue
        key = (value.untyped_storage().data_ptr(), value.storage_offset())
        if key in seen and value.numel():
            continue
        seen.add(key)
        dtype = str(value.dtype).removeprefix("torch.")
        found[dtype] = found.get(dtype, 0) + value.numel() * value.element_size()
    return {
        "parameters": sum(p.numel() for p in parameters),
        "trainable": sum(p.numel() for p in parameters if p.requires_grad),
        "bytes": sum(found.values()),
        "bytes_per_dtype": dict(sorted(found.items(), key=lambda kv: -kv[1])),
    }


def describe(size: dict[str, Any]) -> str:
    """'1,234 parameters (1,234 trainable), 4.9 kB (float32)'; several dtypes are listed with
    their bytes: '... 2.1 MB (float32 2.0 MB, int64 80.0 kB)'."""
    per_dtype = size.get("bytes_per_dtype") or {}
    if len(per_dtype) == 1:
        kinds = next(iter(per_dtype))
    else:
        kinds = ", ".join(f"{dtype} {human_bytes(n)}" for dtype, n in per_dtype.items())
    return (
        f"{size['parameters']:,} parameters ({size['trainable']:,} trainable), "
        f"{human_bytes(size['bytes'])}" + (f" ({kinds})" if kinds else "")
    )


def human_bytes(count: float) -> str:
    """1234 -> '1.2 kB' (decimal units, as file sizes are usually shown)."""
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")
