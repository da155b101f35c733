"""Tiny trained models for the explain tests (module scope: trained once, in about a second)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelyard import Model


def x1_table(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    """Numbers x1, x2, x3 and a colour; the label depends on x1 only."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=rows)
    return pd.DataFrame(
        {
            "x1": x1.round(4),
            "x2": rng.normal(size=rows).round(4),
            "x3": rng.normal(size=rows).round(4),
            "colour": rng.choice(["red", "green", "blue"], size=rows),
            "label": np.where(x1 > 0, "yes", "no"),
            "amount": (2 * x1 + 5).round(4),
        }
    )


def x1_config(output: dict | None = None) -> dict:
    return {
        "name": "x1",
        "data": {"split": {"validation": 0.0, "test": 0.0}},
        "inputs": [{"name": n, "type": "number"} for n in ("x1", "x2", "x3")]
        + [{"name": "colour", "type": "category"}],
        "outputs": [output or {"name": "label", "type": "category"}],
        "combiner": {"type": "mlp", "hidden": [16]},
        "trainer": {"epochs": 3, "batch_size": 16, "optimizer": {"type": "adam", "lr": 0.01}},
    }


@pytest.fixture(scope="package")
def x1_model() -> Model:
    return Model.from_config(x1_config()).fit(train=x1_table())


@pytest.fixture(scope="package")
def amount_model() -> Model:
    return Model.from_config(x1_config({"name": "amount", "type": "number"})).fit(train=x1_table())
