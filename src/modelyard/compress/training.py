"""What prune (fine-tuning) and distill share: a model with a new config that keeps the fitted
preprocessing, and a short training through the one training loop (`train.loop.fit`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import torch

from modelyard.errors import UserError
from modelyard.train.loop import Objective, Tensors

Extra = Callable[[Any], Tensors]  # the prepared Table -> extra training tensors (N, ...)


def with_config(model, config, module: torch.nn.Module | None = None):
    """A new api.Model for `config` that reuses `model`'s fitted preprocessing state (vocabularies,
    scalers, image sizes), so both see identical tensors. `config` may differ in model sizes only."""
    from modelyard.api import Model
    from modelyard.data.features import Preprocessing

    sources = {f.name: f.source for f in model.preprocessing.inputs if getattr(f, "source", None)}
    new = Model(config, model.base_dir)
    new.preprocessing = Preprocessing(config, sources)
    for old, feature in zip(model.preprocessing.inputs, new.preprocessing.inputs, strict=True):
        feature.saved = getattr(old, "saved", False)
    new.preprocessing.load_state(model.preprocessing.state())
    new.module = module
    return new


def train_tensors(model, frame: pd.DataFrame, extra: Extra | None = None) -> Tensors:
    """The model's inputs and targets for `frame` (plus `extra(table)`), as `fit` takes them."""
    table = model.preprocessing.prepare(frame, "train")
    model._log_notes()
    tensors = {
        **model.module.pack(table.tensors),
        **{o.name: table.tensors[o.name] for o in model.config.outputs},
    }
    return {**tensors, **(extra(table) if extra else {})}


def train(
    model, frame: pd.DataFrame, epochs: int, objective: Objective | None = None, extra: Extra = None
) -> list[dict[str, float]]:
    """Train `model.module` in place for `epochs` with the config's trainer settings (no early
    stopping or plateau schedule: there is no validation split here). Returns the history."""
    from modelyard.data.augment import build_augmenters
    from modelyard.data.source import InMemorySource
    from modelyard.models.build import build_losses
    from modelyard.train.distributed import Processes
    from modelyard.train.loop import FitSetup, fit, supervised_objective
    from modelyard.train.precision import pick_device, use_bf16

    if epochs < 1:
        raise UserError(f"--epochs {epochs}: train for at least one epoch")
    settings = model.config.trainer
    schedule = settings.schedule
    if schedule.type == "plateau":
        schedule = schedule.model_copy(update={"type": "constant"})
    settings = settings.model_copy(
        update={"epochs": epochs, "early_stopping": None, "schedule": schedule}
    )
    tensors = train_tensors(model, frame, extra)
    device = pick_device(settings.device)
    setup = FitSetup(
        settings=settings,
        objective=objective
        or supervised_objective(build_losses(model.config, model.preprocessing)),
        device=device,
        bf16=use_bf16(settings.precision, device),
        procs=Processes(),
        shown=model._epoch_metrics(),
    )
    augmenters = build_augmenters(model.preprocessing)
    source = InMemorySource(tensors, settings.batch_size, settings.seed, augmenters)
    state = fit(model.module, source, setup)
    model.module.to("cpu").eval()
    return state.history
