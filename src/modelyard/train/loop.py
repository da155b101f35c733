"""The training loop: one `fit`, readable top to bottom.

Batches come from a `data.source.BatchSource` (in memory: an index into tensors, no
per-sample Python, augmentation included), which keeps the loop's own overhead near that of
a hand-written one. The same code runs as one process or under torchrun (the source gives
each process its share of every global batch; DDP averages the gradients, or with
trainer.strategy fsdp, FSDP2 trains a sharded copy of the model and `fit` puts the trained
weights back into the model given).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from modelyard.data.source import BatchSource
from modelyard.errors import UserError
from modelyard.train import checkpoint, distributed
from modelyard.train.optim import build_optimizer, l1_penalty
from modelyard.train.precision import autocast
from modelyard.train.progress import Progress, log
from modelyard.train.schedule import build_schedule, is_per_epoch, is_per_step

Losses = dict[str, tuple[float, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]]
Tensors = dict[str, torch.Tensor]
Objective = Callable[[nn.Module, Tensors], torch.Tensor]


def supervised_objective(losses: Losses) -> Objective:
    """Weighted sum of each output's loss: predictions against the batch's targets."""

    def objective(model: nn.Module, batch: Tensors) -> torch.Tensor:
        predictions = model(batch)
        items = [
            weight * loss(predictions[name], batch[name]) for name, (weight, loss) in losses.items()
        ]
        return items[0] if len(items) == 1 else torch.stack(items).sum()

    return objective


@dataclass
class FitState:
    """Everything a resumed run needs besides the model and optimizer."""

    epoch: int = 0
    best_score: float | None = None
    best_weights: dict[str, torch.Tensor] | None = None
    bad_epochs: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    # within epoch `epoch + 1` (checkpoint_every_steps): global steps done, and their losses
    position: int = 0
    step_losses: list[float] = field(default_factory=list)
    # trainer.privacy: the accountant's history and the (epsilon, delta) spent (train/privacy.py)
    privacy: dict[str, Any] | None = None


@dataclass
class FitSetup:
    """What `fit` needs besides model and data (all plain values; built by the API from the config)."""

    settings: Any  # config.schema.Trainer
    objective: Objective  # (model, batch) -> scalar loss; see `supervised_objective`
    device: torch.device
    bf16: bool
    procs: distributed.Processes
    validate: Callable[[nn.Module], dict[str, float]] | None = (
        None  # validation metrics incl. "loss"
    )
    metric_mode: str = "min"  # of settings.early_stopping.metric
    shown: tuple[str, ...] = ()  # validation metrics the epoch line shows (tasks' epoch_metrics)
    checkpoint_path: Path | None = None
    resume: dict[str, Any] | None = None
    step: Step | None = None  # a task's own training step; default `gradient_step`
    # after each epoch, on the main process: (the history so far) -> None, and a tracker
    after_epoch: Callable[[list[dict[str, float]]], None] | None = None
    tracker: Any = None  # train/tracking.TensorBoard, or None


@dataclass
class Training:
    """The objects of one `fit`, as a training step sees them."""

    model: nn.Module  # the module trained: fit's model, or its sharded copy (fsdp)
    wrapped: nn.Module  # what a step calls: the model, or its DDP wrapper under torchrun
    optimizer: torch.optim.Optimizer
    scheduler: Any  # torch LR scheduler, or None
    setup: FitSetup
    accumulate: int  # micro-steps per optimizer update (trainer.gradient_accumulation)
    state: FitState
    data: Any  # the training data's fingerprint, for the checkpoint (None without one)
    total_steps: int  # optimizer updates of the whole run
    privacy: Any = None  # train/privacy.Private under trainer.privacy, else None


Step = Callable[[Training, Tensors, float, bool], torch.Tensor]


def gradient_step(run: Training, batch: Tensors, share: float, update: bool) -> torch.Tensor:
    """The default training step on one batch: the objective's loss (times this process's
    `share` of the global batch under torchrun, plus trainer.l1), backward, and when `update`
    (the last micro-step of an accumulation) clipping, the optimizer's step and a per-step
    schedule's. Returns the loss, detached. A task's own step (FitSetup.step) has the same
    signature: a second optimizer or averaged (EMA) weights go there."""
    setup, s = run.setup, run.setup.settings
    with distributed.gradient_sync(run.wrapped, update), autocast(setup.device, setup.bf16):
        loss = setup.objective(run.wrapped, batch)
    if setup.procs.world > 1:
        loss = loss * share
    if s.l1:  # (not with strategy fsdp: config/checks.py)
        loss = loss + s.l1 * l1_penalty(run.model)
    with distributed.gradient_sync(run.wrapped, update):
        (loss / run.accumulate if run.accumulate > 1 else loss).backward()
    if update:
        if s.gradient_clip:
            nn.utils.clip_grad_norm_(run.model.parameters(), s.gradient_clip)
        run.optimizer.step()
        run.optimizer.zero_grad(set_to_none=True)
        if is_per_step(run.scheduler):
            run.scheduler.step()
    return loss.detach()


def fit(model: nn.Module, source: BatchSource, setup: FitSetup) -> FitState:
    """Train `model` in place on the batches of `source` (inputs and targets); returns the
    history. `model` ends on the training device, with the trained weights in every process."""
    s, procs = setup.settings, setup.procs
    source = source.to(setup.device)
    run = _start(model, source, setup)
    for epoch in range(run.state.epoch + 1, s.epochs + 1):
        row = _train_epoch(run, source, epoch)
        stop = _end_epoch(run, row)
        if procs.is_main:
            rows = (
                source.rows
                if source.rows is not None
                else source.steps_per_epoch * source.batch_size
            )
            log(_epoch_line(row, s.epochs, rows, setup.shown))
            if setup.tracker is not None:
                setup.tracker.epoch(row, rows)
            if setup.after_epoch is not None:  # before the checkpoint: it never runs ahead
                setup.after_epoch(run.state.history)
        if setup.checkpoint_path:
            _save_checkpoint(run)
        distributed.barrier(procs)
        if distributed.broadcast_flag(stop, procs) and epoch < s.epochs:
            if procs.is_main:
                log(
                    f"early stopping after epoch {epoch}: no improvement in {s.early_stopping.metric} for {run.state.bad_epochs} epochs"
                )
            break
    if run.privacy is not None:
        from modelyard.train import privacy

        privacy.unwrap(run.wrapped)
        run.state.privacy = run.privacy.record()
    _keep_best(run)
    _put_back(run, model)
    return run.state


def _start(model: nn.Module, source: BatchSource, setup: FitSetup) -> Training:
    """The fit's objects: the module to train (`model` on the device, or its sharded copy),
    the optimizer and schedule, restored from `setup.resume` when continuing a run (whose data
    and schedule must be this run's), the data's fingerprint and the total number of optimizer
    updates (for checkpoints)."""
    s = setup.settings
    accumulate = min(s.gradient_accumulation, source.steps_per_epoch)
    updates_per_epoch = -(-source.steps_per_epoch // accumulate)
    total_steps = updates_per_epoch * s.epochs
    trained = _place(model, setup)
    optimizer = build_optimizer(s.optimizer, trained)
    scheduler = build_schedule(
        s.schedule, optimizer, updates_per_epoch, total_steps, setup.metric_mode
    )
    data = source.fingerprint() if setup.checkpoint_path or setup.resume else None
    if setup.resume:
        checkpoint.check_resumable(setup.resume, data, total_steps, s.schedule.type, s.epochs)
    state = (
        _restore(setup.resume, trained, optimizer, scheduler, setup) if setup.resume else FitState()
    )
    if setup.resume and state.epoch == s.epochs and setup.procs.is_main:
        log(_finishing_note(state, s))
    _check_stopping_metric(setup, trained)
    if s.privacy is None:
        wrapped, private = _wrap(trained, setup), None
        _check_not_private(state)
    else:
        wrapped, optimizer, private = _private(trained, optimizer, source, state, setup)
    return Training(
        trained, wrapped, optimizer, scheduler, setup, accumulate, state, data, total_steps, private
    )


def _finishing_note(state: FitState, settings) -> str:
    """What a resume with trainer.epochs = the epochs done does: no training, the run ends."""
    kept = "the best epoch's weights" if settings.keep == "best" else "the last weights"
    partial = (
        f" (they include {state.position} steps of epoch {state.epoch + 1})"
        if state.position and settings.keep != "best"
        else ""
    )
    return (
        f"the checkpoint has completed all {state.epoch} epochs of trainer.epochs: finishing the "
        f"run without more training, with {kept}{partial}"
    )


def _private(model: nn.Module, optimizer, source: BatchSource, state: FitState, setup: FitSetup):
    """trainer.privacy: (what a step calls, the DP optimizer, the accountant), continuing the
    checkpoint's accountant when resuming. Needs a source that draws Poisson batches."""
    from modelyard.train import privacy

    s, procs = setup.settings, setup.procs
    if not getattr(source, "poisson", False):  # the accountant's guarantee assumes them
        raise UserError(
            "trainer.privacy needs the training rows in memory (Poisson sampling draws any "
            "row at any step); set data.streaming: false"
        )
    if setup.step is not None:
        raise UserError(
            "trainer.privacy: this model trains with a step of its own (two optimizers or "
            "averaged weights), which DP-SGD cannot clip per row; train it without privacy"
        )
    if setup.resume is not None and state.privacy is None:
        raise UserError(
            "--resume: the checkpoint was trained without trainer.privacy, so its privacy "
            "was not accounted for; start a new run (without --resume)"
        )
    private = privacy.start(s.privacy, source.rows, source.steps_per_epoch, s.epochs, state.privacy)
    expected = source.rows * private.sample_rate / procs.world
    wrapped, dp_optimizer = privacy.wrap(model, optimizer, private, procs, expected)
    return wrapped, dp_optimizer, private


def _check_not_private(state: FitState) -> None:
    if state.privacy is not None:
        raise UserError(
            "--resume: the checkpoint was trained with trainer.privacy; resume it with the "
            "same trainer.privacy settings"
        )


def _train_epoch(run: Training, source: BatchSource, epoch: int) -> dict[str, float]:
    """One pass over the source: {epoch, train_loss, lr..., seconds}, the mean loss of the
    global batches. A NaN or infinite loss or weight stops the run here. A run resumed from
    a checkpoint within this epoch starts at its position, with its random state."""
    setup, s, procs = run.setup, run.setup.settings, run.setup.procs
    step_fn = setup.step or gradient_step
    if run.privacy is not None:
        from modelyard.train.privacy import private_step as step_fn
    started = time.perf_counter()
    run.model.train()
    start = run.state.position
    if start == 0:  # (within an epoch, the checkpoint's random state was restored)
        _seed_draws(distributed.stream_seed(s.seed, procs.rank, epoch), setup.device)
    steps, every = source.steps_per_epoch, s.checkpoint_every_steps
    step_losses = [torch.tensor(v, device=setup.device) for v in run.state.step_losses]
    loss_sum = (
        torch.stack(step_losses).sum() if step_losses else torch.zeros((), device=setup.device)
    )
    progress = Progress(procs.is_main)
    progress.start_epoch(epoch, s.epochs, steps)
    batches = source.batches(epoch, procs, start_step=start)
    for step, (batch, share) in enumerate(batches, start=start):
        update = (step + 1) % run.accumulate == 0 or step + 1 == steps
        loss = step_fn(run, batch, share, update)
        if setup.tracker is not None:
            setup.tracker.step((epoch - 1) * steps + step + 1, loss)
        loss_sum += loss
        step_losses.append(loss)
        progress.step(step + 1, (step + 1) * source.batch_size, loss_sum, steps)
        if (
            every
            and update
            and setup.checkpoint_path
            and (step + 1) % (every * run.accumulate) == 0
            and step + 1 < steps
        ):
            run.state.position = step + 1  # and the steps' losses, averaged over the processes:
            # each process resumes from them, whatever the number of processes then
            run.state.step_losses = distributed.mean_across(
                torch.stack(step_losses), procs
            ).tolist()
            _save_checkpoint(run)
    progress.end_epoch()
    run.state.position, run.state.step_losses = 0, []
    train_loss = float(distributed.mean_across(loss_sum, procs)) / steps
    _check_finite(train_loss, step_losses, run, epoch)
    return {"epoch": epoch, "train_loss": train_loss, "started": started}


def _save_checkpoint(run: Training) -> None:
    """Every process calls it; the main process writes the run's checkpoint (atomically), with
    every process's random state (the CPU's and its GPU's: within an epoch, a resume draws
    what the run would have drawn). Under trainer.strategy fsdp every process first writes its
    shards of the weights and optimizer state, which the checkpoint names."""
    setup, procs = run.setup, run.setup.procs
    path = setup.checkpoint_path
    randoms = distributed.gather_objects(checkpoint.random_state(setup.device), procs)
    shards = None
    if setup.settings.strategy == "fsdp":
        shards = checkpoint.shards_name(run.state.epoch, run.state.position)
        checkpoint.save_sharded(run.model, run.optimizer, path.parent / shards, procs.is_main)
    if run.privacy is not None:
        run.state.privacy = run.privacy.record()
    if not procs.is_main:
        return
    snapshot = {
        "scheduler": run.scheduler.state_dict() if run.scheduler is not None else {},
        "state": dict(vars(run.state)),
        "rngs": [cpu for cpu, _ in randoms],
        "cuda_rngs": [gpu for _, gpu in randoms if gpu is not None],
        "data": run.data,
        "total_steps": run.total_steps,
    }
    if shards is None:
        snapshot.update(model=run.model.state_dict(), optimizer=run.optimizer.state_dict())
    else:
        snapshot["shards"] = shards
    checkpoint.save_atomic(snapshot, path)
    if shards is not None:
        checkpoint.prune_shards(path)


def _end_epoch(run: Training, row: dict[str, float]) -> bool:
    """Validate, record the epoch's row in the history, track the best epoch, step a
    per-epoch schedule; True when early stopping says to stop."""
    setup, s = run.setup, run.setup.settings
    started = row.pop("started")
    if setup.validate is not None:  # rank 0's metrics decide for all (batch-norm statistics differ)
        metrics = distributed.broadcast_object(setup.validate(run.model), setup.procs)
        row.update({f"validation_{k}": v for k, v in metrics.items()})
    row.update(_learning_rates(run.optimizer))
    row["seconds"] = time.perf_counter() - started
    if run.privacy is not None:  # spent so far, at trainer.privacy.delta
        row["epsilon"] = run.privacy.epsilon()
    run.state.history.append(row)
    stop = _early_stopping(run.state, row, setup, run.model)
    if is_per_epoch(run.scheduler):
        run.scheduler.step(row[f"validation_{_tracked_metric(s)}"])
    run.state.epoch = int(row["epoch"])
    return stop


def _keep_best(run: Training) -> None:
    """trainer.keep: best puts back the weights of the best validation epoch."""
    state, s = run.state, run.setup.settings
    if state.best_weights is None or s.keep != "best":
        return
    distributed.load_full(run.model, state.best_weights)
    if run.setup.procs.is_main:
        metric = _tracked_metric(s)
        key = f"validation_{metric}"
        best = next(row["epoch"] for row in state.history if row.get(key) == state.best_score)
        log(
            f"restored the weights of epoch {best}, the best in validation {metric} (trainer.keep: best)"
        )


def _place(model: nn.Module, setup: FitSetup) -> nn.Module:
    """The module to train: `model` on the training device, or with trainer.strategy fsdp and
    several processes, a sharded copy of it (`model` waits on the meta device, releasing its
    memory, for `_put_back`)."""
    if setup.settings.strategy != "fsdp":
        return model.to(setup.device)
    if setup.procs.world > 1:
        return distributed.shard(model, setup.device, setup.procs)
    log(
        "note: trainer.strategy fsdp shards the model across processes; in one process it "
        "trains as usual (start it with torchrun --nproc_per_node N to shard it)"
    )
    return model.to(setup.device)


def _put_back(run: Training, model: nn.Module) -> None:
    """After training a sharded copy: its weights, gathered, into `model` on every process."""
    if run.model is not model:
        distributed.unshard_into(run.model, model, run.setup.procs)


def _wrap(model: nn.Module, setup: FitSetup) -> nn.Module:
    """What a step calls: the model itself (in one process, or sharded: FSDP's hooks are in
    it), or DDP's wrapper."""
    if setup.procs.world == 1 or distributed.is_sharded(model):
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [setup.device.index] if setup.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def _seed_draws(seed: int, device: torch.device) -> None:
    """Seed what dropout and masking draw from (augmentation has the source's own stream): the
    CPU's generator and the training GPU's (torch.manual_seed also seeds every other GPU, about 100x slower)."""
    torch.default_generator.manual_seed(seed)
    if device.type == "cuda":
        torch.cuda.manual_seed(seed)  # the current device: this process's GPU


def _early_stopping(
    state: FitState, row: dict[str, float], setup: FitSetup, model: nn.Module
) -> bool:
    """Track the best epoch (by the early-stopping metric, else validation loss) when early
    stopping or `keep: best` needs it; True when patience has run out. Best weights on the
    CPU, whole (gathered from the shards under fsdp: every process decides alike)."""
    rule = setup.settings.early_stopping
    if setup.validate is None or (rule is None and setup.settings.keep != "best"):
        return False
    metric = _tracked_metric(setup.settings)
    if f"validation_{metric}" not in row:
        raise _metric_missing(metric, row)
    score = row[f"validation_{metric}"]
    sign = 1.0 if setup.metric_mode == "max" else -1.0
    min_delta = rule.min_delta if rule is not None else 0.0
    if state.best_score is None or sign * (score - state.best_score) > min_delta:
        state.best_score, state.bad_epochs = score, 0
        if setup.settings.keep == "best":
            state.best_weights = distributed.full_state(model, setup.procs)
        return False
    state.bad_epochs += 1
    return rule is not None and state.bad_epochs >= rule.patience


def _tracked_metric(settings) -> str:
    """The validation metric that decides the best epoch: early stopping's, else the loss."""
    return settings.early_stopping.metric if settings.early_stopping else "loss"


def _check_stopping_metric(setup: FitSetup, model: nn.Module) -> None:
    """Before the first epoch, make sure the validation split yields a ROC-AUC early-stopping
    metric (it needs both classes among the validation rows; the only metric a split may lack,
    so no other pays for this extra validation; `_early_stopping` guards the rest)."""
    rule = setup.settings.early_stopping
    if rule is None or not rule.metric.endswith("roc_auc") or setup.validate is None:
        return
    row = {f"validation_{k}": v for k, v in setup.validate(model).items()}
    if f"validation_{rule.metric}" not in row:
        raise _metric_missing(rule.metric, row)


def _metric_missing(metric: str, row: dict[str, float]) -> UserError:
    given = ", ".join(k.removeprefix("validation_") for k in row if k.startswith("validation_"))
    return UserError(
        f"trainer.early_stopping.metric: '{metric}' cannot be computed on this validation split "
        f"(roc_auc, for one, needs both classes among the validation rows); it gives: {given}; "
        "choose one of those, or a larger validation split"
    )


def _check_finite(
    train_loss: float, step_losses: list[torch.Tensor], run: Training, epoch: int
) -> None:
    """A NaN or infinite loss or weight ends the run before anything is validated or saved
    (in every process alike: the loss is the mean across processes, and so is the verdict on
    sharded weights)."""
    hint = "lower trainer.optimizer.lr, set trainer.gradient_clip, or check the data for extreme values"
    if not math.isfinite(train_loss):
        bad = (~torch.isfinite(torch.stack(step_losses))).nonzero()
        step = int(bad[0]) + 1 if len(bad) else len(step_losses)
        value = float(step_losses[step - 1]) if len(bad) else train_loss
        raise UserError(
            f"training diverged: the loss is {value} at epoch {epoch}, step {step}; {hint}"
        )
    model = run.model
    local = [distributed.local_tensor(p) for p in model.parameters()]
    finite = torch.stack([torch.isfinite(p).all() for p in local]).all()
    if distributed.is_sharded(model):
        finite = distributed.mean_across(finite.float(), run.setup.procs) == 1
    if not bool(finite):
        raise UserError(
            f"training diverged: the weights are no longer finite after epoch {epoch}, step {len(step_losses)}; {hint}"
        )


def _restore(snapshot: dict[str, Any], model, optimizer, scheduler, setup: FitSetup) -> FitState:
    """A checkpoint's weights and optimizer state (whole, or DCP shards: into any number of
    processes), schedule and random state into this run's; returns its FitState."""
    if snapshot.get("shards") is not None:
        checkpoint.load_sharded(model, optimizer, snapshot["shards"])
    else:
        model.load_state_dict(snapshot["model"])
        optimizer.load_state_dict(snapshot["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(snapshot["scheduler"])
    checkpoint.restore_random(snapshot, setup.procs, setup.device)
    return FitState(**copy.deepcopy(snapshot["state"]))


def _learning_rates(optimizer) -> dict[str, float]:
    """{"lr": the first group's rate} and, with several parameter groups (a pretrained
    backbone and the head), {"lr_<group name>": rate} for each."""
    groups = optimizer.param_groups
    rates = {"lr": groups[0]["lr"]}
    if len(groups) > 1:
        rates.update({f"lr_{g.get('name', i)}": g["lr"] for i, g in enumerate(groups)})
    return rates


def _epoch_line(
    row: dict[str, float], epochs: int, rows: int, metrics: tuple[str, ...] = ()
) -> str:
    """`epoch 3/10  train_loss ..  val_loss ..  val_<metric> ..  lr ..  1.2s  5,000 samples/s`:
    the losses, then the validation `metrics` (output prefixes allowed: `label.accuracy`)."""
    shown = ("train_loss", "validation_loss")
    ends = tuple(f"_{m}" for m in metrics) + tuple(f".{m}" for m in metrics)
    parts = [f"epoch {int(row['epoch'])}/{epochs}"]
    parts += [
        f"{k.replace('validation_', 'val_')} {v:.4f}"
        for k, v in row.items()
        if k in shown or (k.startswith("validation_") and k.endswith(ends))
    ]
    rates = {k.removeprefix("lr_"): v for k, v in row.items() if k.startswith("lr_")}
    shown_lr = (
        " / ".join(f"{name} {lr:.3g}" for name, lr in rates.items())
        if len(set(rates.values())) > 1
        else f"{row['lr']:.3g}"
    )
    parts += [
        f"lr {shown_lr}",
        f"{row['seconds']:.1f}s",
        f"{rows / row['seconds']:,.0f} samples/s",
    ]
    return "  ".join(parts)
