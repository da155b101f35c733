"""Dynamic int8 quantization: close to the float model, smaller, and saved/loaded exactly."""

from __future__ import annotations

import copy

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from modelyard.compress import quantize
from modelyard.errors import UserError
from tests.unit.compress.helpers import inputs, tiny_model


def test_quantized_model_is_close_to_the_float_one_and_its_linear_weights_shrink():
    model = tiny_model(combiner={"type": "mlp", "hidden": [64, 32]})
    batch = inputs(model)
    expected = model.module(batch)["label"]
    quantized = quantize.quantize(copy.deepcopy(model.module))
    got = quantized(batch)["label"]
    assert (got - expected).abs().max() < 0.05
    assert quantize.linear_weight_bytes(quantized) < 0.4 * quantize.linear_weight_bytes(
        model.module
    )
    assert quantize.count_parameters(quantized)[0] == quantize.count_parameters(model.module)[0]


def test_saved_int8_tensors_reload_into_a_fresh_float_model_exactly(tmp_path):
    model = tiny_model()
    quantized = quantize.quantize(copy.deepcopy(model.module))
    state = quantize.state_tensors(quantized)
    assert all(v.dtype == torch.int8 for k, v in state.items() if k.endswith("weight_int8"))
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "w.safetensors"))
    fresh = tiny_model()  # same config, weights initialised differently below
    with torch.no_grad():
        for p in fresh.module.parameters():
            p.add_(1.0)
    loaded = quantize.load_quantized(fresh.module, load_file(str(tmp_path / "w.safetensors")))
    batch = inputs(model)
    assert torch.equal(loaded(batch)["label"], quantized(batch)["label"])


def test_damaged_quantized_weights_are_a_user_error():
    model = tiny_model()
    state = quantize.state_tensors(quantize.quantize(copy.deepcopy(model.module)))
    del state["combiner.layers.0.weight_scale"]
    with pytest.raises(UserError, match="weight_scale"):
        quantize.load_quantized(tiny_model().module, state)


def test_a_model_without_linear_layers_is_refused():
    with pytest.raises(UserError, match="no Linear layers"):
        quantize.quantize(nn.Sequential(nn.ReLU()))
