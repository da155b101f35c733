"""Learning-rate schedules: a per-step multiplier, or reduce-on-plateau per epoch."""

from __future__ import annotations

import math

import torch


def build_schedule(
    cfg, optimizer: torch.optim.Optimizer, steps_per_epoch: int, total_steps: int, mode: str = "min"
):
    """A scheduler stepped after every optimizer step (or, for `plateau`, after every epoch);
    None for a constant rate without warm-up (saves a Python call per step).
    `mode` says whether the plateau metric should go down ("min") or up ("max")."""
    if cfg.type == "constant" and cfg.warmup_steps == 0:
        return None
    if cfg.type == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=mode, factor=cfg.gamma, patience=cfg.patience, min_lr=cfg.min_lr
        )
    base = optimizer.param_groups[0]["lr"]
    floor = cfg.min_lr / base if base else 0.0

    def multiplier(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        done = (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps)
        if cfg.type == "cosine":
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, done)))
        if cfg.type == "linear":
            return floor + (1 - floor) * max(0.0, 1 - done)
        if cfg.type == "step":
            return cfg.gamma ** (step // (cfg.step_epochs * steps_per_epoch))
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, multiplier)


def is_per_step(scheduler) -> bool:
    return scheduler is not None and not is_per_epoch(scheduler)


def is_per_epoch(scheduler) -> bool:
    return isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
