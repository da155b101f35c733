"""modelyard's log (the `modelyard` logger) and its training progress bar.

Every note, epoch line and progress bar goes through here. `verbosity("quiet")` (CLI `-q`)
keeps warnings and errors only; `verbosity("verbose")` (CLI `-v`) adds debug lines and the
reports of the libraries underneath (transformers' load report). From Python,
`logging.getLogger("modelyard").setLevel(...)` works too.
"""

from __future__ import annotations

import logging
import os
import sys
import time

LOGGER = logging.getLogger("modelyard")
LEVELS = {"quiet": logging.WARNING, "normal": logging.INFO, "verbose": logging.DEBUG}


class Progress:
    """Shows a live bar on a terminal; elsewhere (CI, files) only the per-epoch lines."""

    def __init__(self, enabled: bool):
        self.live = enabled and sys.stderr.isatty() and LOGGER.isEnabledFor(logging.INFO)
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


class _Stderr(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at the time (pytest and notebooks replace it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def _setup() -> None:
    """One handler writing bare messages to stderr, at INFO, unless the user configured one."""
    if not LOGGER.handlers:
        LOGGER.addHandler(_Stderr())
        LOGGER.propagate = False  # the handler above prints it; no second copy from the root
    if LOGGER.level == logging.NOTSET:
        LOGGER.setLevel(logging.INFO)


def log(message: str, level: int = logging.INFO) -> None:
    """Log one line to the `modelyard` logger (stderr by default). Under torchrun, notes
    (below WARNING) come from the main process only: the others would repeat them."""
    if level < logging.WARNING and os.environ.get("RANK", "0") != "0":
        return
    LOGGER.log(level, message)


def verbosity(level: str | int) -> None:
    """Set how much modelyard says: "quiet" (warnings and errors), "normal" (notes, epoch
    lines, progress bar) or "verbose" (also debug lines and transformers' own reports), or
    a `logging` level."""
    if isinstance(level, str):
        if level not in LEVELS:
            from modelyard.errors import UserError

            raise UserError(f"verbosity '{level}': use one of {', '.join(LEVELS)}")
        level = LEVELS[level]
    LOGGER.setLevel(level)


def verbose() -> bool:
    """True when debug lines are shown (and so should the libraries' own reports be)."""
    return LOGGER.isEnabledFor(logging.DEBUG)


_setup()
