"""models.size: parameter counts (all and trainable) and the bytes of the weights per dtype."""

from __future__ import annotations

import torch
from torch import nn

from modelyard.models.size import describe, human_bytes, model_size


def test_counts_parameters_trainable_and_bytes_per_dtype():
    module = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))
    module[0].requires_grad_(False)  # frozen, as a pretrained encoder's layers can be
    module[2].to(torch.float16)
    size = model_size(module)
    assert size["parameters"] == 15 + 6 + 8
    assert size["trainable"] == 6 + 8
    # float32: first Linear 15, BatchNorm weight, bias, running mean and var 12; int64: 1
    assert size["bytes_per_dtype"] == {"float32": 27 * 4, "float16": 8 * 2, "int64": 8}
    assert size["bytes"] == 27 * 4 + 16 + 8
    assert list(size["bytes_per_dtype"]) == ["float32", "float16", "int64"]  # largest first


def test_tied_weights_are_counted_once():
    embedding, head = nn.Embedding(10, 4), nn.Linear(4, 10, bias=False)
    head.weight = embedding.weight
    size = model_size(nn.ModuleDict({"embedding": embedding, "head": head}))
    assert size["parameters"] == 40 and size["bytes"] == 160


def test_given_tensors_are_what_is_measured():
    module = nn.Linear(4, 4)
    size = model_size(module, {"w": torch.zeros(4, 4, dtype=torch.int8), "scale": "packed"})
    assert size["bytes"] == 16 and size["bytes_per_dtype"] == {"int8": 16}
    assert size["parameters"] == 20


def test_describe_and_human_bytes():
    one = {"parameters": 1234, "trainable": 34, "bytes": 4936, "bytes_per_dtype": {"float32": 4936}}
    assert describe(one) == "1,234 parameters (34 trainable), 4.9 kB (float32)"
    two = {**one, "bytes": 2_080_000, "bytes_per_dtype": {"float32": 2_000_000, "int64": 80_000}}
    assert describe(two).endswith("2.1 MB (float32 2.0 MB, int64 80.0 kB)")
    assert [human_bytes(n) for n in (999, 1000, 3.2e9, 5e12)] == [
        "999 B",
        "1.0 kB",
        "3.2 GB",
        "5000.0 GB",
    ]
