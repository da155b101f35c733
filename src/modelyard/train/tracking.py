"""TensorBoard event files for a run (`<run>/events`), written by TensorBoard's own writer
(torch.utils.tensorboard). The main process writes them; a resumed run appends to them."""

from __future__ import annotations

from pathlib import Path

import torch

EVENTS_DIR = "events"


class TensorBoard:
    """`step` records the training loss every `every` batches (reading the loss
    then only: a sync with the device); `epoch` the epoch's row of the history: train and
    validation metrics, learning rates, samples per second."""

    def __init__(self, folder: Path, every: int):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(folder))
        self.every = every

    def step(self, global_step: int, loss: torch.Tensor) -> None:
        """`global_step`: steps since the run began (1-based); `loss`: that step's, 0-dim."""
        if global_step % self.every == 0:
            self.writer.add_scalar("train/loss_step", float(loss), global_step)

    def epoch(self, row: dict[str, float], rows: int) -> None:
        """`row`: the history's row of this epoch; `rows`: training rows per epoch."""
        epoch = int(row["epoch"])
        for key, value in row.items():
            if key in ("epoch", "seconds"):
                continue
            self.writer.add_scalar(_tag(key), value, epoch)
        self.writer.add_scalar("speed/samples_per_second", rows / row["seconds"], epoch)
        self.writer.flush()

    def close(self) -> None:
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


def open_tracker(run_dir: Path | None, settings) -> TensorBoard | None:
    """The run's tracker per `settings` (config `tracking`), or None without a run directory."""
    if run_dir is None or not settings.tensorboard:
        return None
    return TensorBoard(run_dir / EVENTS_DIR, settings.every_steps)
