"""An untrained tiny tabular api.Model (fitted preprocessing, built module): no training needed."""

from __future__ import annotations

import torch

from modelyard.api import Model
from modelyard.data.features import Preprocessing
from modelyard.models.build import build_model
from tests.conftest import make_table, tiny_config


def tiny_model(combiner: dict | None = None, encoder: dict | None = None) -> Model:
    config = tiny_config()
    config["inputs"][4]["encoder"] = encoder or {"type": "mlp", "embedding_dim": 4, "hidden": [6]}
    config["combiner"] = combiner or {"type": "mlp", "hidden": [8, 6]}
    model = Model.from_config(config)
    model.preprocessing = Preprocessing(model.config)
    model.preprocessing.fit(make_table(40))
    torch.manual_seed(0)
    model.module = build_model(model.config, model.preprocessing).eval()
    return model


def inputs(model: Model, rows: int = 12) -> dict[str, torch.Tensor]:
    return model._inputs(model.preprocessing.prepare(make_table(rows, seed=4), "t", labels=False))
