"""Live records of a run besides history.csv (config `tracking`), written by the main process:
TensorBoard event files (`<run>/events`, TensorBoard's own writer, torch.utils.tensorboard;
a resumed run appends to them) and, when `tracking.mlflow` names a store, an MLflow run
(train/mlflow_tracking.py).

    connect (before anything heavy) -> open_tracker (model built) -> step / epoch (the loop)
    -> end (run directory written) -> close (inside `recording`: FINISHED, FAILED or KILLED)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

EVENTS_DIR = "events"


class TensorBoard:
    """The training loss at each step it is given; per epoch the history's row: train and
    validation metrics, learning rates, samples per second."""

    def __init__(self, folder: Path):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(folder))

    def step(self, global_step: int, loss: float) -> None:
        self.writer.add_scalar("train/loss_step", loss, global_step)

    def epoch(self, row: dict[str, float], rows: int) -> None:
        """`row`: the history's row of this epoch; `rows`: training rows per epoch."""
        epoch = int(row["epoch"])
        for key, value in row.items():
            if key in ("epoch", "seconds"):
                continue
            self.writer.add_scalar(_tag(key), value, epoch)
        self.writer.add_scalar("speed/samples_per_second", rows / row["seconds"], epoch)
        self.writer.flush()

    def end(self, metrics: dict[str, dict[str, Any]], run_dir: Path | None) -> None:
        pass

    def close(self, status: str) -> None:
        self.writer.close()


def _tag(key: str) -> str:
    """history.csv's column -> a TensorBoard tag grouped by kind: train/loss,
    validation/accuracy, lr/head."""
    if key.startswith("validation_"):
        return "validation/" + key.removeprefix("validation_")
    if key.startswith("train_"):
        return "train/" + key.removeprefix("train_")
    if key == "lr" or key.startswith("lr_"):
        return "lr/" + (key.removeprefix("lr_") if key != "lr" else "all")
    return key


class Trackers:
    """The run's trackers as one, for the loop: `step` reads the loss (a sync with the
    device) every `every` steps only."""

    def __init__(self, parts: list, every: int):
        self.parts, self.every = parts, every

    def step(self, global_step: int, loss: torch.Tensor) -> None:
        """`global_step`: steps since the run began (1-based); `loss`: that step's, 0-dim."""
        if global_step % self.every == 0:
            value = float(loss)
            for part in self.parts:
                part.step(global_step, value)

    def epoch(self, row: dict[str, float], rows: int) -> None:
        for part in self.parts:
            part.epoch(row, rows)

    def end(self, metrics: dict[str, dict[str, Any]], run_dir: Path | None) -> None:
        """After the run directory is written: the final `metrics` (metrics.json's)."""
        for part in self.parts:
            part.end(metrics, run_dir)

    def close(self, status: str) -> None:
        for part in self.parts:
            part.close(status)


def connect(config, base: Path):
    """The MLflow store `tracking.mlflow` names, checked (train/mlflow_tracking.Store), or
    None. `base`: the folder relative store paths start from (the config file's)."""
    settings = config.tracking
    if settings.mlflow is None:
        return None
    from modelyard.train import mlflow_tracking

    return mlflow_tracking.connect(settings.mlflow, settings.mlflow_experiment or config.name, base)


def open_tracker(run_dir: Path | None, config, store, resume: bool) -> Trackers | None:
    """The run's trackers per `config.tracking`, or None: TensorBoard needs a run directory;
    MLflow (`store` from `connect`) records without one too, but then has no artifacts and
    cannot be resumed."""
    parts: list = []
    if run_dir is not None and config.tracking.tensorboard:
        parts.append(TensorBoard(run_dir / EVENTS_DIR))
    if store is not None:
        from modelyard.train import mlflow_tracking

        with recording(Trackers(parts, 1), on_success=False):
            parts.append(mlflow_tracking.start(store, run_dir, config, resume))
    return Trackers(parts, config.tracking.every_steps) if parts else None


@contextlib.contextmanager
def recording(tracker: Trackers | None, on_success: bool = True) -> Iterator[None]:
    """Close `tracker` after the block: KILLED (interrupted) or FAILED when the block raised,
    else FINISHED (unless `on_success` is False: then it stays open)."""
    if tracker is None:
        yield
        return
    try:
        yield
    except KeyboardInterrupt:
        tracker.close("KILLED")
        raise
    except BaseException:
        tracker.close("FAILED")
        raise
    if on_success:
        tracker.close("FINISHED")
