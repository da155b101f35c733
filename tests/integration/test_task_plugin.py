"""A new task, written here and nowhere else, trains, evaluates, predicts and serves through
the CLI: ordinal regression (ratings 1 < 2 < 3 < 4), loaded as a plugin (MODELYARD_PLUGINS)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml

from tests.integration.cli_helpers import modelyard, user_error
from tests.integration.test_serve import _free_port, wait_until_serving

pytestmark = pytest.mark.integration

ORDINAL_TASK = '''
"""Ordinal regression: K ordered levels, K - 1 cumulative logits P(y > level k)
(the CORAL loss of Cao et al. 2020, with a free weight per threshold)."""
from typing import Literal

import numpy as np
import torch
from torch.nn import functional as F

from modelyard.config.schema.common import Strict
from modelyard.data.features.base import Feature, parse_numbers
from modelyard.errors import UserError
from modelyard.tasks import HIGHER, LOWER, Task, register


class OrdinalOutput(Strict):
    """Ordered numeric levels, such as star ratings."""

    name: str
    type: Literal["ordinal"]
    column: str | None = None
    weight: float = 1.0


class OrdinalFeature(Feature):
    type = "ordinal"

    def fit(self, series):
        self.levels = sorted(set(parse_numbers(series, self.column).tolist()))

    def transform(self, series):
        values = parse_numbers(series, self.column)
        unknown = ~np.isin(values, self.levels) & ~np.isnan(values)
        if unknown.any():
            raise UserError(f"column '{self.column}': level {values[unknown][0]} not seen in training")
        ranks = np.searchsorted(self.levels, np.nan_to_num(values, nan=self.levels[0]))
        return torch.as_tensor(np.where(np.isnan(values), -100, ranks), dtype=torch.long)

    def state(self):
        return {"levels": self.levels}

    def load_state(self, state):
        self.levels = state["levels"]


class OrdinalTask(Task):
    type = "ordinal"
    schema = OrdinalOutput
    feature = OrdinalFeature
    metrics = {"rank_mae": LOWER, "exact": HIGHER}
    capabilities = frozenset({"serve"})

    def head_size(self, feature):
        return len(feature.levels) - 1

    def loss(self, output):
        def cumulative(logits, rank):
            above = torch.arange(logits.shape[1], device=logits.device) < rank[:, None]
            return F.binary_cross_entropy_with_logits(logits.float(), above.float())

        return cumulative

    def labelled(self, feature, target):
        return target >= 0

    def score(self, feature, outputs, table, details):
        rows = self.labelled(feature, table.tensors[feature.name])
        truth = table.tensors[feature.name][rows]
        error = ((outputs[feature.name][rows] > 0).sum(dim=1) - truth).abs().float()
        return {"rank_mae": float(error.mean()), "exact": float((error == 0).float().mean())}, {}

    def predictions(self, feature, outputs):
        ranks = (outputs[feature.name] > 0).sum(dim=1).numpy()
        return {f"{feature.name}_prediction": np.asarray(feature.levels)[ranks]}


register(OrdinalTask())
'''


def _ratings(rows: int, seed: int) -> pd.DataFrame:
    """A rating of 1 to 4 set by thresholds on x; z is noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    rating = 1 + (x > -0.7).astype(int) + (x > 0).astype(int) + (x > 0.7).astype(int)
    return pd.DataFrame({"x": x.round(4), "z": rng.normal(size=rows).round(4), "rating": rating})


CONFIG = {
    "data": {"train": "train.csv", "split": {"validation": 0.2, "test": 0.0, "seed": 0}},
    "inputs": [{"name": "x", "type": "number"}, {"name": "z", "type": "number"}],
    "outputs": [{"name": "rating", "type": "ordinal"}],
    "combiner": {"type": "mlp", "hidden": [16]},
    "trainer": {
        "epochs": 40,
        "batch_size": 32,
        "optimizer": {"type": "adam", "lr": 0.03},
        "early_stopping": {"metric": "rank_mae", "patience": 40},
    },
}


@pytest.fixture
def ordinal_plugin(tmp_path, monkeypatch):
    """The task's module in the project folder, importable there; unregistered afterwards."""
    (tmp_path / "ordinal_task.py").write_text(ORDINAL_TASK, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield {"MODELYARD_PLUGINS": "ordinal_task"}
    from modelyard.tasks import registered, unregister

    if any(t.type == "ordinal" for t in registered()):
        unregister("ordinal")
    sys.modules.pop("ordinal_task", None)


def test_an_ordinal_task_defined_in_this_test_trains_evaluates_predicts_and_serves(
    tmp_path, ordinal_plugin
):
    _ratings(400, seed=0).to_csv(tmp_path / "train.csv", index=False)
    _ratings(200, seed=1).to_csv(tmp_path / "test.csv", index=False)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    env = ordinal_plugin

    schema = json.loads(modelyard("schema", cwd=tmp_path, env=env).stdout)
    assert "OrdinalOutput" in schema["$defs"]
    trained = modelyard("train", "config.yaml", "--output", "run", cwd=tmp_path, env=env)
    assert "val_rank_mae" in trained.stderr  # the epoch line names the task's metrics
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["validation"]["rows"] == 80
    evaluated = modelyard("evaluate", "run", "--data", "test.csv", cwd=tmp_path, env=env)
    scores = json.loads(evaluated.stdout)
    assert scores["exact"] > 0.85 and scores["rank_mae"] < 0.2, scores
    assert scores["rows"] == 200
    modelyard(
        "predict", "run", "--data", "test.csv", "--out", "predictions.csv", cwd=tmp_path, env=env
    )
    predicted = pd.read_csv(tmp_path / "predictions.csv")
    truth = pd.read_csv(tmp_path / "test.csv")["rating"]
    assert set(predicted["rating_prediction"]) <= {1, 2, 3, 4}
    assert (predicted["rating_prediction"] == truth).mean() > 0.85

    refused = user_error(
        modelyard(
            "explain",
            "run",
            "--data",
            "test.csv",
            "--out",
            "e.json",
            cwd=tmp_path,
            env=env,
            check=None,
        )
    )
    assert "explain does not support this model's output 'rating' (ordinal) yet" in refused

    served = _serve(tmp_path, "run", env, [{"x": 1.5, "z": 0.0}, {"x": -1.5, "z": 0.0}])
    assert [p["rating_prediction"] for p in served] == [4, 1]


def test_without_the_plugin_the_run_names_what_is_missing(tmp_path, ordinal_plugin):
    _ratings(100, seed=0).to_csv(tmp_path / "train.csv", index=False)
    config = CONFIG | {"trainer": {"epochs": 1}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    message = user_error(modelyard("train", "config.yaml", cwd=tmp_path, check=None))
    assert "outputs[0].type: unknown output type 'ordinal'" in message
    assert "MODELYARD_PLUGINS" in message


def test_a_plugin_that_cannot_be_imported_is_a_user_error(tmp_path):
    env = {"MODELYARD_PLUGINS": "no_such_plugin_module"}
    message = user_error(modelyard("schema", cwd=tmp_path, env=env, check=None))
    assert "MODELYARD_PLUGINS: no module 'no_such_plugin_module' to import" in message


def _serve(folder, run: str, env: dict, records: list[dict]) -> list[dict]:
    """Predictions of a real `modelyard serve` process for `records`."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "serve", run, "--port", str(port)],
        cwd=folder,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env, "PYTHONPATH": os.pathsep.join([str(folder), *sys.path])},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(url)
        response = httpx.post(f"{url}/predict", json={"records": records})
        assert response.status_code == 200, response.text
        return response.json()["predictions"]
    finally:
        server.terminate()
        server.communicate(timeout=30)
