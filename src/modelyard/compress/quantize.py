"""Post-training dynamic int8 quantization of every `nn.Linear` (weights int8 per output channel,
activations quantized on the fly per batch), and its save / load as plain safetensors.

Library: `torch.ao.quantization.quantize_dynamic` with `per_channel_dynamic_qconfig`. torch 2.13
marks `torch.ao.quantization` deprecated in favour of torchao, but torchao is not installed and
not needed here: the eager API still works on the CPU, so its deprecation warnings are silenced
around our calls (`_torch_ao`).

Saving: safetensors holds plain tensors, not torch's packed quantized ones, so each quantized
layer `P` is stored as `P.weight_int8` (out, in) int8, `P.weight_scale` (out,) float64,
`P.weight_zero_point` (out,) int64 and `P.bias` (out,) float32; every other weight is stored as
it is. Loading rebuilds the float model, quantizes it the same way and puts those int8 values
back, so the reloaded model computes exactly what the saved one did (the file holds the int8
weights, not float ones to be re-quantized). `model/quantization.json` records what was done.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from modelyard.errors import UserError

RECORD_FILE = "quantization.json"  # in the run's model/ folder, beside modelyard.json
RECORD = {
    "method": "dynamic_int8",
    "layers": "nn.Linear",
    "weights": "int8, per output channel, symmetric",
    "activations": "int8, quantized per batch at run time",
    "library": "torch.ao.quantization.quantize_dynamic (per_channel_dynamic_qconfig)",
}
_SUFFIXES = ("weight_int8", "weight_scale", "weight_zero_point", "bias")


@contextlib.contextmanager
def _torch_ao() -> Iterator[None]:
    """torch 2.13 warns that torch.ao.quantization and quantized tensors are deprecated."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantiz.*", category=UserWarning)
        yield


def quantize(module: nn.Module) -> nn.Module:
    """A copy of `module` (eval mode) with every nn.Linear replaced by an int8 dynamic one."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    if not any(isinstance(m, nn.Linear) for m in module.modules()):
        raise UserError(
            "this model has no Linear layers, so dynamic int8 quantization would change nothing; "
            "try --method prune or distill"
        )
    with _torch_ao():
        return quantize_dynamic(
            module.eval(), {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8
        )


def _quantized_layers(module: nn.Module) -> dict[str, nn.Module]:
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    return {name: m for name, m in module.named_modules() if isinstance(m, DynamicLinear)}


def state_tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    """Plain tensors for safetensors: int8 weights with their scales, and every other weight."""
    layers = _quantized_layers(module)
    state = {
        k: v
        for k, v in module.state_dict().items()
        if isinstance(v, torch.Tensor) and not any(k.startswith(f"{p}.") for p in layers)
    }
    with _torch_ao():
        for prefix, layer in layers.items():
            weight, bias = layer.weight(), layer.bias()
            state[f"{prefix}.weight_int8"] = weight.int_repr()
            state[f"{prefix}.weight_scale"] = weight.q_per_channel_scales()
            state[f"{prefix}.weight_zero_point"] = weight.q_per_channel_zero_points()
            if bias is not None:
                state[f"{prefix}.bias"] = bias.detach()
    return state


def load_quantized(module: nn.Module, state: dict[str, torch.Tensor]) -> nn.Module:
    """The float `module` as built from the config -> quantized, with `state` (from
    `state_tensors`) put back exactly."""
    plain = {k: v for k, v in state.items() if not k.endswith(_SUFFIXES[:3])}
    missing, unexpected = module.load_state_dict(plain, strict=False)
    quantized = quantize(module)
    layers = _quantized_layers(quantized)
    missing = [k for k in missing if k.rsplit(".", 1)[0] not in layers]
    if missing or unexpected:
        raise UserError(
            f"the quantized weights do not fit the model (missing {missing[:3]}, unexpected {unexpected[:3]}); "
            "the run's weights.safetensors is damaged or from another config"
        )
    with _torch_ao():
        for prefix, layer in layers.items():
            layer.set_weight_bias(_int8_weight(state, prefix), state.get(f"{prefix}.bias"))
    return quantized.eval()


def _int8_weight(state: dict[str, torch.Tensor], prefix: str) -> torch.Tensor:
    """The (out, in) per-channel qint8 tensor from its int8 values, scales and zero points."""
    try:
        values, scales, zero_points = (state[f"{prefix}.{s}"] for s in _SUFFIXES[:3])
    except KeyError as e:
        raise UserError(
            f"the quantized weights lack {e.args[0]}; the run's weights.safetensors is damaged"
        ) from None
    # Dequantize then quantize with the same scales: exact (each value is on the int8 grid).
    floats = (values.double() - zero_points[:, None].double()) * scales[:, None]
    return torch.quantize_per_channel(floats.float(), scales, zero_points, 0, torch.qint8)


def count_parameters(module: nn.Module) -> tuple[int, int]:
    """(all, nonzero) weights, counting a quantized layer's int8 weight and bias."""
    tensors: list[torch.Tensor] = [p.detach() for p in module.parameters()]
    with _torch_ao():
        for layer in _quantized_layers(module).values():
            tensors.append(layer.weight().int_repr())
            if layer.bias() is not None:
                tensors.append(layer.bias().detach())
    return sum(t.numel() for t in tensors), sum(int(t.count_nonzero()) for t in tensors)


def linear_weight_bytes(module: nn.Module) -> int:
    """Bytes the Linear layers' weight matrices take: float ones, or int8 plus per-channel
    scale and zero point (8 bytes each, as stored)."""
    total = sum(
        m.weight.numel() * m.weight.element_size()
        for m in module.modules()
        if isinstance(m, nn.Linear)
    )
    with _torch_ao():
        for layer in _quantized_layers(module).values():
            weight = layer.weight()
            total += weight.numel() + 16 * weight.shape[0]
    return total


def describe(module: nn.Module) -> dict[str, Any]:
    return {**RECORD, "quantized_layers": len(_quantized_layers(module))}
