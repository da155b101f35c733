"""trainer.privacy (DP-SGD through Opacus): config checks, Poisson batches, layer
replacement, the accountant and its resume, and the private step's arithmetic."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from modelyard.config import load_config
from modelyard.config.schema.trainer import Privacy, Sgd, Trainer
from modelyard.data.source import InMemorySource, poisson_rows
from modelyard.errors import UserError
from modelyard.models.heads import make_loss
from modelyard.train import privacy
from modelyard.train.distributed import Processes
from modelyard.train.loop import FitSetup, fit, supervised_objective

BASE = {
    "name": "t",
    "data": {"train": "t.csv"},
    "inputs": [{"name": "x", "type": "number"}],
    "outputs": [{"name": "y", "type": "binary"}],
}


def _config(trainer: dict):
    return load_config({**BASE, "trainer": trainer})


def _problems(trainer: dict) -> str:
    with pytest.raises(UserError) as caught:
        _config(trainer)
    return str(caught.value)


@pytest.mark.parametrize(
    ("privacy_settings", "expected"),
    [
        ({"epsilon": 3, "noise_multiplier": 1.0, "delta": 1e-5}, "exactly one of epsilon"),
        ({"delta": 1e-5}, "neither given"),
        ({"epsilon": 0, "delta": 1e-5}, "trainer.privacy.epsilon"),
        ({"epsilon": -1, "delta": 1e-5}, "trainer.privacy.epsilon"),
        ({"epsilon": 3}, "trainer.privacy.delta"),
    ],
)
def test_privacy_settings_are_checked(privacy_settings, expected):
    assert expected in _problems({"privacy": privacy_settings})


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ({"precision": "bf16"}, "trainer.precision"),
        ({"precision": "auto"}, "trainer.precision"),
        ({"gradient_accumulation": 2}, "trainer.gradient_accumulation"),
        ({"gradient_clip": 1.0}, "trainer.gradient_clip"),
        ({"l1": 0.01}, "trainer.l1"),
        ({"strategy": "fsdp"}, "trainer.strategy"),
    ],
)
def test_settings_that_clash_with_privacy_are_refused(setting, expected):
    problems = _problems({"privacy": {"epsilon": 3, "delta": 1e-5}, **setting})
    assert expected in problems and "privacy" in problems
    _config(setting)  # fine without privacy


def test_poisson_batches_are_independent_draws_of_the_expected_size():
    rows, steps = 10_000, 20
    sizes = [len(poisson_rows(rows, steps, 7, 1, step)) for step in range(steps)]
    assert len(set(sizes)) > 1  # each step its own size: not a shuffle cut into batches
    assert abs(sum(sizes) / steps - rows / steps) < 5 * math.sqrt(rows / steps)
    again = poisson_rows(rows, steps, 7, 1, 3)
    assert torch.equal(again, poisson_rows(rows, steps, 7, 1, 3))  # (seed, epoch, step) alone
    assert not torch.equal(again, poisson_rows(rows, steps, 7, 2, 3))
    picked = torch.cat([poisson_rows(rows, steps, 7, 1, s) for s in range(steps)])
    assert len(picked) > len(picked.unique())  # a row may be in two batches of an epoch


def test_batch_norm_is_replaced_by_group_norm_with_a_note():
    model = nn.Sequential(
        nn.Conv2d(1, 64, 3), nn.BatchNorm2d(64), nn.Flatten(), nn.Linear(64, 8), nn.BatchNorm1d(8)
    )
    fixed, notes = privacy.compatible(model)
    assert isinstance(fixed[1], nn.GroupNorm) and fixed[1].num_groups == 32
    # vectors: one group (32 groups of a (B, 8) input would zero every value)
    assert isinstance(fixed[4], nn.GroupNorm) and fixed[4].num_groups == 1
    assert notes == [
        "1: BatchNorm2d -> GroupNorm (32 groups)",
        "4: BatchNorm1d -> GroupNorm (1 group)",
    ]
    out = fixed(torch.randn(3, 1, 3, 3))
    assert out.std() > 0.1


class _WeightsAndBuffers(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(4))
        self.register_buffer("scale", torch.ones(4))

    def forward(self, x):
        return x * self.weight * self.scale


def test_a_layer_opacus_cannot_handle_is_named():
    model = nn.Sequential(nn.Linear(4, 4), _WeightsAndBuffers())
    with pytest.raises(UserError, match=r"1 \(_WeightsAndBuffers\) has both weights and buffers"):
        privacy.compatible(model)


def test_delta_must_be_below_one_over_the_rows():
    with pytest.raises(UserError, match=r"delta: 0.01 is not below 1 / the 100 training rows"):
        privacy.check_delta(0.01, 100)
    privacy.check_delta(1e-3, 100)


def test_the_noise_for_a_target_epsilon_spends_it_over_the_run():
    settings = Privacy(epsilon=3.0, delta=1e-5, accountant="rdp")  # (prv: tests/integration)
    private = privacy.start(settings, rows=60_000, steps_per_epoch=30, epochs=10, saved=None)
    for _ in range(300):
        private.step()
    assert 2.9 < private.epsilon() <= 3.0
    half = privacy.start(settings, rows=60_000, steps_per_epoch=30, epochs=10, saved=None)
    for _ in range(150):
        half.step()
    assert half.epsilon() < 2.5  # spent as the run goes


def test_an_epsilon_out_of_reach_is_a_user_error():
    settings = Privacy(epsilon=1e-6, delta=1e-5)
    with pytest.raises(UserError, match="cannot be reached"):
        privacy.start(settings, rows=100, steps_per_epoch=1, epochs=100, saved=None)


def test_the_accountant_resumes_from_its_record():
    settings = Privacy(noise_multiplier=1.1, delta=1e-5, accountant="rdp")
    first = privacy.start(settings, rows=1000, steps_per_epoch=10, epochs=4, saved=None)
    for _ in range(20):
        first.step()
    resumed = privacy.start(settings, 1000, 10, 4, saved=first.record())
    for _ in range(20):
        resumed.step()
    whole = privacy.start(settings, 1000, 10, 4, saved=None)
    for _ in range(40):
        whole.step()
    assert resumed.epsilon() == pytest.approx(whole.epsilon())
    with pytest.raises(UserError, match="sampled 0.1 of the rows"):
        privacy.start(settings, 1000, 20, 4, saved=first.record())


class _Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.out = nn.Linear(3, 1)

    def forward(self, batch):
        return {"y": self.out(batch["x"]).squeeze(-1)}


def _private_fit(noise: float, clip: float, epochs: int = 1):
    x = torch.randn(200, 3, generator=torch.Generator().manual_seed(0))
    tensors = {"x": x, "y": (x[:, 0] > 0).float()}
    settings = Trainer(
        epochs=epochs,
        batch_size=50,
        optimizer=Sgd(lr=0.5),
        early_stopping=None,
        privacy=Privacy(noise_multiplier=noise, delta=1e-3, max_grad_norm=clip),
    )
    losses = {"y": (1.0, make_loss("binary_cross_entropy"))}
    setup = FitSetup(
        settings, supervised_objective(losses), torch.device("cpu"), False, Processes()
    )
    torch.manual_seed(0)
    model = _Linear()
    start = {k: v.clone() for k, v in model.state_dict().items()}
    state = fit(model, InMemorySource(tensors, 50, 1, poisson=True), setup)
    return model, start, tensors, state


def test_without_noise_or_clipping_a_private_step_is_the_batch_gradient_over_its_expected_size():
    model, start, tensors, state = _private_fit(noise=1e-12, clip=1e6)
    rows = poisson_rows(200, 4, 1, 1, 0)
    reference = _Linear()
    reference.load_state_dict(start)
    for step in range(4):
        rows = poisson_rows(200, 4, 1, 1, step)
        logits = reference({"x": tensors["x"][rows]})["y"]
        loss = nn.functional.binary_cross_entropy_with_logits(
            logits, tensors["y"][rows], reduction="sum"
        )
        grads = torch.autograd.grad(loss / 50.0, list(reference.parameters()))
        with torch.no_grad():
            for p, g in zip(reference.parameters(), grads, strict=True):
                p -= 0.5 * g
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=1e-4)
    assert state.privacy["steps"] == 4 and state.history[0]["epsilon"] > 0
    assert not hasattr(model.out.weight, "grad_sample")  # Opacus' hooks are off the model


def test_clipping_bounds_each_rows_part_of_a_step():
    model, start, _, _ = _private_fit(noise=1e-12, clip=1e-3)
    moved = (model.out.weight - start["out.weight"]).norm()
    # 4 steps of lr 0.5 * (at most 1e-3 per row * the rows) / 50 expected rows: ~2e-3 at most
    assert 0 < moved < 4 * 0.5 * 1e-3 * 80 / 50
