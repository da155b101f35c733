"""Differentially private training (trainer.privacy): DP-SGD through Opacus.

Each step's batch is a Poisson sample of the training rows (the source draws it: every row
independently, with probability q = 1 / steps per epoch; `data.source.poisson_rows`), Opacus'
`GradSampleModule` computes each row's gradient, its `DPOptimizer` clips each to
`max_grad_norm`, sums them and adds Gaussian noise of standard deviation
`noise_multiplier * max_grad_norm`, and an accountant (PRV or RDP) composes the steps into
the (epsilon, delta) spent. Under torchrun each process clips its share of the batch and
Opacus' `DistributedDPOptimizer` sums them, rank 0 adding the noise once.

Layers that mix the rows of a batch (BatchNorm) are replaced when the model is built
(`compatible`, called by `models.build.build_model`, so that a saved run loads into the same
modules); a layer Opacus cannot give per-row gradients for is a UserError naming it.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from modelyard.errors import UserError


def compatible(model: nn.Module) -> tuple[nn.Module, list[str]]:
    """`model` with each BatchNorm (which normalises a row by the other rows of its batch,
    so a row's gradient is not its own) replaced by a GroupNorm of the same channels (one
    group for BatchNorm1d: `_vectors_norm`; up to 32 for images, Opacus' choice), and
    LSTM / GRU / MultiheadAttention by Opacus' per-row equivalents (same weights). Returns
    the model and one note per replacement ("encoders.0.blocks.1: BatchNorm2d -> GroupNorm
    (32 groups)"); a layer Opacus can neither fix nor handle is a UserError naming it."""
    from opacus.validators import ModuleValidator

    before = {name: m for name, m in model.named_modules()}
    _vectors_norm(model)
    fixed = ModuleValidator.fix(model)
    notes = []
    for name, module in fixed.named_modules():
        old = before.get(name)
        if old is not None and type(old) is not type(module):
            notes.append(f"{name}: {type(old).__name__} -> {_describe(module)}")
    check(fixed)
    return fixed, notes


def _vectors_norm(model: nn.Module) -> None:
    """Replace (in place) each BatchNorm1d, which normalises (B, C) vectors, by GroupNorm
    with one group: each row normalised over its C features (a LayerNorm with per-feature
    weights). Opacus' own fix, GroupNorm of up to 32 groups, would leave one feature per
    group of a (B, C) input: every value normalised to 0."""
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if type(child) is nn.BatchNorm1d:
                norm = nn.GroupNorm(1, child.num_features, eps=child.eps, affine=child.affine)
                setattr(parent, name, norm)


def check(model: nn.Module) -> None:
    """A UserError naming every layer Opacus cannot train privately: a layer that still
    mixes rows (a BatchNorm without weights, which `fix` leaves), or one with weights and
    buffers (Opacus computes per-row gradients only for layers whose state is their weights)."""
    from opacus.utils.module_utils import trainable_modules

    mixing = [
        name for name, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
    ]
    with_buffers = [
        f"{name or 'the model'} ({type(m).__name__})"
        for name, m in trainable_modules(model)
        if any(True for _ in m.buffers(recurse=False))
    ]
    from opacus.layers.param_rename import RenameParamsMixin

    recurrent = [n for n, m in model.named_modules() if isinstance(m, RenameParamsMixin)]
    problems = [f"{n} (BatchNorm without weights) mixes the rows of a batch" for n in mixing]
    problems += [
        f"{n} is an LSTM or GRU, whose per-row version (Opacus' DPLSTM / DPGRU) modelyard "
        "cannot save yet"
        for n in recurrent
    ]
    problems += [
        f"{n} has both weights and buffers, which Opacus cannot compute per-row gradients for"
        for n in with_buffers
    ]
    if problems:
        raise UserError(
            "trainer.privacy: this model has layers DP-SGD cannot train: "
            + "; ".join(problems)
            + ". Choose other encoders for those inputs (for text, encoder cnn or "
            "transformer instead of bow or rnn), or train without trainer.privacy"
        )


@contextlib.contextmanager
def _quiet_bounds():
    """Opacus' RDP analysis warns when its best order is the last it tries (a looser bound
    than it could give, which the user cannot act on), and PRV's overflows on the way to
    its fallback: silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Optimal order is the")
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="opacus")
        yield


def _describe(module: nn.Module) -> str:
    if isinstance(module, nn.GroupNorm):
        return f"GroupNorm ({module.num_groups} group{'s' if module.num_groups > 1 else ''})"
    return type(module).__name__


# ------------------------------------------------------------ the noise and the accountant


def noise_multiplier(settings, sample_rate: float, steps: int) -> float:
    """privacy.noise_multiplier as given, or the smallest one that keeps `steps` steps at
    `sample_rate` within privacy.epsilon (Opacus' `get_noise_multiplier`, as
    `make_private_with_epsilon` does; to 0.01 in epsilon)."""
    if settings.noise_multiplier is not None:
        return settings.noise_multiplier
    from opacus.accountants.utils import get_noise_multiplier

    try:
        with _quiet_bounds():
            return get_noise_multiplier(
                target_epsilon=settings.epsilon,
                target_delta=settings.delta,
                sample_rate=sample_rate,
                steps=steps,
                accountant=settings.accountant,
            )
    except ValueError as e:  # "The privacy budget is too low."
        raise UserError(
            f"trainer.privacy.epsilon: {settings.epsilon} cannot be reached in {steps} steps "
            f"(sampling {sample_rate:.4g} of the rows each) at any noise level ({e}); raise "
            "epsilon, or train fewer epochs or with a smaller batch_size"
        ) from None


@dataclass
class Private:
    """One private fit's parts: the accountant (its history of (noise, rate, steps) is the
    run's `FitState.privacy["history"]`, saved in every checkpoint) and its settings."""

    accountant: Any  # opacus.accountants.IAccountant
    noise_multiplier: float
    sample_rate: float
    delta: float
    max_grad_norm: float

    def step(self) -> None:
        self.accountant.step(noise_multiplier=self.noise_multiplier, sample_rate=self.sample_rate)

    def epsilon(self) -> float:
        """The epsilon spent so far (at `delta`); 0 before the first step."""
        if not self.accountant.history:
            return 0.0
        with _quiet_bounds():
            try:
                return float(self.accountant.get_epsilon(delta=self.delta))
            except (ValueError, OverflowError):  # PRV's grid cannot hold a very weak noise's
                from opacus.accountants import RDPAccountant  # loss distribution: RDP's bound

                rdp = RDPAccountant()
                rdp.history = list(self.accountant.history)
                return float(rdp.get_epsilon(delta=self.delta))

    def record(self) -> dict[str, Any]:
        """FitState.privacy, which every checkpoint keeps: the accountant's history and the
        noise it was run with, and what metrics.json's `privacy` reports (epsilon and delta
        spent, and how)."""
        return {
            "epsilon": self.epsilon(),
            "delta": self.delta,
            "noise_multiplier": self.noise_multiplier,
            "max_grad_norm": self.max_grad_norm,
            "sample_rate": self.sample_rate,
            "steps": sum(int(n) for _, _, n in self.accountant.history),
            "history": [list(h) for h in self.accountant.history],
        }


def summary(record: dict[str, Any]) -> dict[str, float]:
    """metrics.json's `privacy` from a fit's FitState.privacy: its numbers."""
    return {k: v for k, v in record.items() if k != "history"}


def start(settings, rows: int, steps_per_epoch: int, epochs: int, saved: dict | None) -> Private:
    """The accountant of a fit over `rows` rows, `steps_per_epoch` Poisson steps per epoch
    (sample rate 1 / steps_per_epoch, as Opacus' DPDataLoader), for `epochs` epochs; `saved`
    (a checkpoint's FitState.privacy) continues a run: same noise, its history."""
    from opacus.accountants import create_accountant

    check_delta(settings.delta, rows)
    rate = 1.0 / steps_per_epoch
    accountant = create_accountant(mechanism=settings.accountant)
    if saved is None:
        sigma = noise_multiplier(settings, rate, steps_per_epoch * epochs)
    else:
        if abs(saved["sample_rate"] - rate) > 1e-12:
            raise UserError(
                f"--resume: the checkpoint sampled {saved['sample_rate']:.6g} of the rows per "
                f"step and this run would sample {rate:.6g} (batch_size or the data changed); "
                "resume with the run's own settings"
            )
        sigma = saved["noise_multiplier"]
        accountant.history = [tuple(h) for h in saved["history"]]
        steps = steps_per_epoch * epochs
        if settings.epsilon is not None and noise_multiplier(settings, rate, steps) != sigma:
            from modelyard.train.progress import log

            log(
                f"note: trainer.privacy: the run's noise was chosen to spend epsilon "
                f"{settings.epsilon} in other epochs than {epochs}; it keeps that noise, and "
                "history.csv's epsilon says what it spends"
            )
    return Private(accountant, sigma, rate, settings.delta, settings.max_grad_norm)


def check_delta(delta: float, rows: int) -> None:
    """delta is the chance that the guarantee fails; at 1 / rows or more, a mechanism that
    publishes one row in full satisfies it. An error, not a warning: such a run is not private."""
    if delta >= 1.0 / rows:
        raise UserError(
            f"trainer.privacy.delta: {delta:g} is not below 1 / the {rows} training rows "
            f"({1 / rows:.3g}): a guarantee that loose allows publishing a whole row; use a "
            f"delta well below it, e.g. {_suggested_delta(rows):g}"
        )


def _suggested_delta(rows: int) -> float:
    """A power of ten at most 1 / (10 * rows)."""
    import math

    return 10.0 ** math.floor(math.log10(1.0 / (10 * rows)))


# ------------------------------------------------------------ the model and the step


def wrap(model: nn.Module, optimizer: torch.optim.Optimizer, private: Private, procs, batch: float):
    """(what a step calls, the optimizer that clips and noises): `model` inside Opacus'
    GradSampleModule (per-row gradients, by hooks; functorch for layers without a sampler),
    and under torchrun inside its DPDDP (which only starts every process on rank 0's
    weights: the DP optimizer sums the clipped gradients itself). `batch`: the expected
    rows per step of this process (the global expected batch / processes)."""
    from opacus import GradSampleModule
    from opacus.optimizers import DistributedDPOptimizer, DPOptimizer

    check(model)
    per_row = GradSampleModule(model, loss_reduction="mean")
    kind = DistributedDPOptimizer if procs.world > 1 else DPOptimizer
    dp_optimizer = kind(
        optimizer,
        noise_multiplier=private.noise_multiplier,
        max_grad_norm=private.max_grad_norm,
        expected_batch_size=batch,
        loss_reduction="mean",
    )
    if procs.world == 1:
        return per_row, dp_optimizer
    from opacus.distributed import DifferentiallyPrivateDistributedDataParallel

    return DifferentiallyPrivateDistributedDataParallel(per_row), dp_optimizer


def unwrap(wrapped: nn.Module) -> None:
    """Take Opacus' hooks and per-row gradients off the trained model."""
    from opacus import GradSampleModule

    per_row = wrapped.module if not isinstance(wrapped, GradSampleModule) else wrapped
    per_row._close()


def private_step(run, batch: dict[str, torch.Tensor], share: float, update: bool) -> torch.Tensor:
    """The training step under trainer.privacy (train/loop.Step): the batch's mean loss,
    per-row gradients, then the DP optimizer's clip, sum, noise and step, and the
    accountant's step. A process without rows of this Poisson batch (share 0) still steps
    (with no gradient of its own: the noise, and under torchrun the others' sum). Returns the
    loss times `share` (its part of the global batch's mean), detached."""
    setup = run.setup
    rows = len(next(iter(batch.values())))
    if share == 0 or rows == 0:
        _no_rows(run.optimizer)
        loss = torch.zeros((), device=setup.device)
    else:
        loss = setup.objective(run.wrapped, batch)
        with warnings.catch_warnings():  # Opacus' hooks on the first layer, whose input needs
            warnings.filterwarnings("ignore", "Full backward hook is firing")  # no gradient
            loss.backward()
    run.optimizer.step()
    run.optimizer.zero_grad(set_to_none=True)
    run.privacy.step()
    from modelyard.train.schedule import is_per_step

    if is_per_step(run.scheduler):
        run.scheduler.step()
    return loss.detach() * share


def _no_rows(optimizer) -> None:
    """Per-row gradients of an empty batch (0 rows), for the DP optimizer to clip and noise."""
    for p in optimizer.params:
        p.grad_sample = torch.zeros((0, *p.shape), dtype=p.dtype, device=p.device)
