"""A progress bar with loss and samples/s (rich), redrawn at most ten times a second."""

from __future__ import annotations

import sys
import time


class Progress:
    """Shows a live bar on a terminal; elsewhere (CI, files) only the per-epoch lines."""

    def __init__(self, enabled: bool):
        self.live = enabled and sys.stderr.isatty()
        self._bar = None
        self._next_draw = 0.0

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        if not self.live:
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(),
            transient=True,
        )
        self._task = self._bar.add_task(f"epoch {epoch}/{epochs}", total=steps, info="")
        self._bar.start()
        self._started = time.perf_counter()

    def step(self, done: int, samples: int, loss_sum, steps: int) -> None:
        """Cheap unless a redraw is due; `loss_sum` is a tensor, read only when drawing."""
        if self._bar is None:
            return
        now = time.perf_counter()
        if now < self._next_draw and done < steps:
            return
        self._next_draw = now + 0.1
        rate = samples / max(now - self._started, 1e-9)
        self._bar.update(
            self._task,
            completed=done,
            info=f"loss {float(loss_sum) / done:.4f}  {rate:,.0f} samples/s",
        )

    def end_epoch(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
