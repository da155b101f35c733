"""Learning-rate schedules: the multiplier at every step, and the plateau variant."""

from __future__ import annotations

import math

import pytest
import torch

from modelyard.config.schema import Schedule
from modelyard.train.schedule import build_schedule, is_per_epoch, is_per_step

LR = 0.1


def _lrs(cfg: Schedule, steps_per_epoch: int, total: int) -> list[float]:
    """The learning rate used by each of the `total` optimizer steps."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=LR)
    scheduler = build_schedule(cfg, optimizer, steps_per_epoch, total)
    lrs = []
    for _ in range(total):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if is_per_step(scheduler):
            scheduler.step()
    lrs.append(optimizer.param_groups[0]["lr"])  # after the last step
    return lrs


def test_constant() -> None:
    assert _lrs(Schedule(), 3, 12) == [LR] * 13


def test_warmup_ramps_linearly_then_holds() -> None:
    lrs = _lrs(Schedule(warmup_steps=4), 3, 12)
    assert lrs[:5] == pytest.approx([LR / 4, LR / 2, 3 * LR / 4, LR, LR])
    assert lrs[4:] == pytest.approx([LR] * 9)


def test_cosine_decays_to_min_lr_at_the_end() -> None:
    lrs = _lrs(Schedule(type="cosine", warmup_steps=2, min_lr=0.01), 5, 22)
    assert lrs[:3] == pytest.approx([LR / 2, LR, LR])
    assert lrs[2 + 10] == pytest.approx(0.01 + (LR - 0.01) * 0.5)  # half way through the decay
    assert lrs[-1] == pytest.approx(0.01)
    assert all(a >= b for a, b in zip(lrs[2:-1], lrs[3:], strict=True))


def test_linear_decays_to_min_lr_at_the_end() -> None:
    lrs = _lrs(Schedule(type="linear", min_lr=0.02), 4, 8)
    expected = [0.02 + (LR - 0.02) * (1 - i / 8) for i in range(9)]
    assert lrs == pytest.approx(expected)


def test_cosine_without_min_lr_reaches_zero() -> None:
    lrs = _lrs(Schedule(type="cosine"), 4, 8)
    assert lrs[4] == pytest.approx(LR / 2)
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)
    assert lrs[1] == pytest.approx(LR * 0.5 * (1 + math.cos(math.pi / 8)))


def test_step_multiplies_by_gamma_every_step_epochs() -> None:
    lrs = _lrs(Schedule(type="step", step_epochs=2, gamma=0.5), 3, 18)  # 6 steps per stage
    assert lrs[:18] == pytest.approx([LR] * 6 + [LR / 2] * 6 + [LR / 4] * 6)


def test_plateau_reduces_after_patience_epochs() -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=LR)
    scheduler = build_schedule(
        Schedule(type="plateau", patience=2, gamma=0.5, min_lr=0.03), optimizer, 3, 30
    )
    assert is_per_epoch(scheduler) and not is_per_step(scheduler)
    lrs = []
    for loss in (1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95):
        scheduler.step(loss)
        lrs.append(optimizer.param_groups[0]["lr"])
    assert lrs[:4] == pytest.approx([LR] * 4)
    assert lrs[4] == pytest.approx(LR / 2)  # third epoch without improvement
    assert lrs[-1] == pytest.approx(0.03)  # never below min_lr
