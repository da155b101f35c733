"""Optimizers built from the schema's settings, and the L1 penalty."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from modelyard.config import schema
from modelyard.train.optim import OPTIMIZERS, build_optimizer, l1_penalty


def _model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    model[2].bias.requires_grad_(False)  # frozen: left out of the optimizer
    return model


def test_every_optimizer_type_is_registered() -> None:
    tags = {
        t
        for m in (schema.Sgd, schema.Adam, schema.AdamW)
        for t in m.model_fields["type"].annotation.__args__
    }
    assert set(OPTIMIZERS.names()) == tags


@pytest.mark.parametrize(
    ("cfg", "cls", "expected"),
    [
        (
            schema.Adam(lr=0.02, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1),
            torch.optim.Adam,
            {"lr": 0.02, "betas": (0.8, 0.9), "eps": 1e-6, "weight_decay": 0.1},
        ),
        (
            schema.AdamW(lr=0.03),
            torch.optim.AdamW,
            {"lr": 0.03, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01},
        ),
        (
            schema.Sgd(lr=0.5, weight_decay=0.2),
            torch.optim.SGD,
            {"lr": 0.5, "momentum": 0.0, "nesterov": False, "weight_decay": 0.2},
        ),
        (
            schema.Sgd(momentum=0.9),
            torch.optim.SGD,
            {"lr": 0.01, "momentum": 0.9, "nesterov": False},
        ),
        (
            schema.Sgd(momentum=0.9, nesterov=True),
            torch.optim.SGD,
            {"momentum": 0.9, "nesterov": True},
        ),
    ],
    ids=["adam", "adamw", "sgd", "sgd-momentum", "sgd-nesterov"],
)
def test_optimizer_gets_its_settings(cfg, cls, expected) -> None:
    model = _model()
    optimizer = build_optimizer(cfg, model)
    assert type(optimizer) is cls
    group = optimizer.param_groups[0]
    for key, value in expected.items():
        assert group[key] == pytest.approx(value), key
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert len(group["params"]) == len(trainable) == 5
    assert all(any(p is q for q in trainable) for p in group["params"])


def test_optimizer_steps() -> None:
    model = _model()
    for cfg in (schema.Adam(), schema.AdamW(), schema.Sgd(momentum=0.9, nesterov=True)):
        optimizer = build_optimizer(cfg, model)
        before = model[0].weight.detach().clone()
        model(torch.randn(4, 3)).square().sum().backward()
        optimizer.step()
        optimizer.zero_grad()
        assert not torch.equal(before, model[0].weight)


def test_l1_penalty_sums_weight_matrices_only() -> None:
    model = _model()
    with torch.no_grad():
        model[0].weight.fill_(-0.5)  # 12 entries
        model[2].weight.fill_(0.25)  # 8 entries
        model[0].bias.fill_(100.0)  # biases and norm weights do not count
        model[1].weight.fill_(100.0)
    assert l1_penalty(model).item() == pytest.approx(12 * 0.5 + 8 * 0.25)
    model[2].weight.requires_grad_(False)
    assert l1_penalty(model).item() == pytest.approx(6.0)


def test_l1_penalty_gradient_is_sign() -> None:
    layer = nn.Linear(3, 2)
    l1_penalty(layer).backward()
    assert torch.equal(layer.weight.grad, layer.weight.sign())
    assert layer.bias.grad is None


def test_nesterov_without_momentum_is_a_user_error() -> None:
    from modelyard.errors import UserError

    with pytest.raises(UserError, match="nesterov needs momentum"):
        build_optimizer(schema.Sgd(nesterov=True), _model())
