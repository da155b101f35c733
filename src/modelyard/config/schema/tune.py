"""The `tune:` section: what `modelyard tune` searches, and how.

Read by `modelyard tune` only: every other command leaves it out of the config it trains
(config/load.py), and the trials' configs are written without it.
"""

from __future__ import annotations

import builtins
from typing import Annotated, Any, Literal

from pydantic import Field, PositiveInt

from modelyard.config.schema.common import PositiveFloat, Strict

Number = builtins.float


class Param(Strict):
    """One searched config key: exactly one of `loguniform: [low, high]` (a float drawn
    evenly on a log scale; low > 0), `uniform: [low, high]` (a float), `int: [low, high]`
    (both ends included; `step`, and `log: true` for a log scale) or `choice: [a, b, ...]`
    (any YAML values, lists included: `combiner.hidden: {choice: [[32], [64, 32]]}`).
    `step` also applies to `uniform` (a grid of low, low + step, ...)."""

    loguniform: tuple[Number, Number] | None = None
    uniform: tuple[Number, Number] | None = None
    int: tuple[builtins.int, builtins.int] | None = None
    choice: Annotated[list[Any], Field(min_length=1)] | None = None
    step: PositiveFloat | None = None
    log: bool = False

    def kind(self) -> str | None:
        """The one kind written (`loguniform`, `uniform`, `int`, `choice`), else None."""
        given = [k for k in KINDS if getattr(self, k) is not None]
        return given[0] if len(given) == 1 else None


KINDS = ("loguniform", "uniform", "int", "choice")


class Tune(Strict):
    """`modelyard tune CONFIG`: `space` maps config keys, written as for `--set`
    (`trainer.optimizer.lr`, `combiner.hidden`, `inputs.0.encoder.dim`), to what to try.
    `metric`: the validation metric to optimise (`loss`, or any validation metric the config
    reports: `accuracy`, `log_loss`, `label.rmse`, ...); `direction` defaults to the metric's
    own (maximize for accuracy, minimize for losses). `trials`: how many trials the study has
    in all (a re-run continues up to it). `sampler`: tpe (Optuna's Tree-structured Parzen
    Estimator) or random. `pruner`: stops a trial early when its validation metric after an
    epoch is worse than that of earlier trials at the same epoch: median (worse than their
    median, after `pruner_warmup_epochs`), hyperband, or none. `seed`: the sampler's."""

    space: Annotated[dict[str, Param], Field(min_length=1)]
    metric: Annotated[str, Field(min_length=1)] = "loss"
    direction: Literal["maximize", "minimize"] | None = None
    trials: PositiveInt = 20
    sampler: Literal["tpe", "random"] = "tpe"
    pruner: Literal["median", "hyperband", "none"] = "median"
    pruner_warmup_epochs: Annotated[builtins.int, Field(ge=0)] = 3
    seed: builtins.int = 0
