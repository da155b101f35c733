"""Magnitude pruning: structured slicing is exact, unstructured zeros stay and become permanent."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from modelyard.compress import prune
from modelyard.errors import UserError
from tests.unit.compress.helpers import inputs, tiny_model


def _kill_half(layer: nn.Linear) -> None:
    """Half the neurons output relu(0 x - 1) = 0: removing them must change nothing."""
    with torch.no_grad():
        layer.weight[::2] = 0.0
        layer.bias[::2] = -1.0


def test_structured_pruning_of_dead_neurons_keeps_the_outputs_and_shrinks_the_config():
    model = tiny_model()
    for layer in model.module.modules():
        if isinstance(layer, nn.Linear) and layer.out_features in (8, 6):
            _kill_half(layer)
    batch = inputs(model)
    expected = model.module(batch)["label"]
    smaller, changes = prune.structured(model, 0.5)
    assert smaller.config.combiner.hidden == [4, 3]
    assert smaller.config.inputs[4].encoder.hidden == [3]
    assert changes["combiner.hidden"] == {"before": [8, 6], "after": [4, 3]}
    before = sum(p.numel() for p in model.module.parameters())
    assert sum(p.numel() for p in smaller.module.parameters()) < before
    torch.testing.assert_close(smaller.module.eval()(batch)["label"], expected)


def test_structured_pruning_slices_batch_norm_too():
    model = tiny_model(combiner={"type": "mlp", "hidden": [8], "batch_norm": True})
    smaller, _ = prune.structured(model, 0.25)
    assert smaller.module.combiner.layers[1].running_mean.shape == (6,)
    assert smaller.module(inputs(smaller))["label"].shape == (12, 2)


def test_structured_pruning_refuses_a_model_without_mlp_layers():
    model = tiny_model(
        combiner={"type": "concat"}, encoder={"type": "cnn", "embedding_dim": 4, "filters": 4}
    )
    with pytest.raises(UserError, match=r"review \(TextCnn\).*Drop --structured"):
        prune.structured(model, 0.5)


def test_unstructured_pruning_zeros_half_of_each_weight_and_is_made_permanent():
    model = tiny_model()
    pruned = prune.unstructured(model.module, 0.5)
    prune.make_permanent(pruned)
    linear = pruned.combiner.layers[0]
    assert not hasattr(linear, "weight_orig")
    assert (linear.weight == 0).float().mean() == pytest.approx(0.5, abs=0.05)
    assert set(pruned.state_dict()) == set(model.module.state_dict())
