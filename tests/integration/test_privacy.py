"""trainer.privacy end to end: epsilon in history.csv and metrics.json, BatchNorm replaced
(and rebuilt so at loading), a resumed run spends what an uninterrupted one spends, two
processes train what one trains, and what DP-SGD cannot do is an error (exit 2)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from safetensors.torch import load_file

from tests.integration.cli_helpers import modelyard
from tests.integration.test_distributed import _largest_difference, _torchrun

pytestmark = pytest.mark.integration


@pytest.fixture
def project(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 2))
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1]})
    frame["text"] = np.where(x[:, 0] > 0, "good day", "bad day")
    frame["y"] = np.where(x[:, 0] - x[:, 1] > 0, "yes", "no")
    frame.to_csv(tmp_path / "data.csv", index=False)
    config = {
        "name": "private",
        "data": {"train": "data.csv", "split": {"validation": 0.2, "test": 0.2}},
        "inputs": [{"name": "a", "type": "number"}, {"name": "b", "type": "number"}],
        "outputs": [{"name": "y", "type": "binary"}],
        "combiner": {"type": "mlp", "hidden": [8], "batch_norm": True},
        "baselines": False,
        "trainer": {
            "epochs": 3,
            "batch_size": 50,
            "optimizer": {"type": "sgd", "lr": 0.5},
            "early_stopping": None,
            "device": "cpu",
            "privacy": {"epsilon": 2.0, "delta": 1e-4, "max_grad_norm": 1.0},
        },
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return tmp_path


def test_a_private_run_records_the_epsilon_it_spends(project):
    result = modelyard("train", "config.yaml", "--output", "run", cwd=project)
    assert "BatchNorm1d -> GroupNorm (1 group)" in result.stderr
    spent = json.loads((project / "run/metrics.json").read_text())["privacy"]
    assert 1.9 < spent["epsilon"] <= 2.0 and spent["delta"] == 1e-4
    assert spent["steps"] == 3 * 6  # 300 training rows, batch 50: Poisson rate 1/6
    history = pd.read_csv(project / "run/history.csv")
    assert history["epsilon"].is_monotonic_increasing
    assert history["epsilon"].iloc[-1] == pytest.approx(spent["epsilon"])
    meta = json.loads((project / "run/model/meta.json").read_text())
    assert meta["privacy"]["replaced_layers"] == [
        "combiner.layers.1: BatchNorm1d -> GroupNorm (1 group)"
    ]
    assert "epsilon" in (project / "run/report.html").read_text()
    modelyard(
        "predict", "run", "--data", "data.csv", "--out", "p.csv", cwd=project
    )  # GroupNorm again


def test_a_resumed_private_run_spends_what_an_uninterrupted_one_spends(project):
    noise = ["--set", "trainer.privacy={noise_multiplier: 1.0, delta: 1.0e-4}"]
    keep = ["--set", "trainer.keep_checkpoints=last", *noise]
    modelyard(
        "train", "config.yaml", "--output", "two", "--set", "trainer.epochs=2", *keep, cwd=project
    )
    modelyard(
        "train",
        "config.yaml",
        "--output",
        "two",
        "--resume",
        "--set",
        "trainer.epochs=4",
        *keep,
        cwd=project,
    )
    modelyard(
        "train", "config.yaml", "--output", "four", "--set", "trainer.epochs=4", *noise, cwd=project
    )
    resumed, whole = (
        json.loads((project / f"{r}/metrics.json").read_text()) for r in ("two", "four")
    )
    assert resumed["privacy"]["steps"] == whole["privacy"]["steps"] == 4 * 6
    assert resumed["privacy"]["epsilon"] == pytest.approx(whole["privacy"]["epsilon"])
    assert _largest_difference(project / "two", project / "four") < 1e-6  # same noise, too


def test_two_processes_train_the_private_weights_of_one(project):
    """Each process clips its share of the same Poisson batch; rank 0 adds the noise, drawn
    from the stream one process draws it from."""
    modelyard("train", "config.yaml", "--output", "one", cwd=project)
    result = _torchrun("train", "config.yaml", "--output", "two", cwd=project)
    assert result.returncode == 0, result.stderr
    assert _largest_difference(project / "one", project / "two") < 1e-5
    one, two = (json.loads((project / f"{r}/metrics.json").read_text()) for r in ("one", "two"))
    assert one["privacy"] == two["privacy"]
    assert load_file(str(project / "two/model/weights.safetensors"))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (  # a text input with the default bow encoder: weights and a buffer (idf)
            [
                "inputs=[{name: text, type: text}]",
            ],
            "has both weights and buffers",
        ),
        (["inputs=[{name: text, type: text, encoder: {type: rnn}}]"], "is an LSTM or GRU"),
        (["trainer.privacy.delta=0.01"], "delta: 0.01 is not below 1 / the 300 training rows"),
        (["trainer.privacy.noise_multiplier=1.0"], "give exactly one of epsilon"),
        (["trainer.privacy.epsilon=0"], "trainer.privacy.epsilon"),
        (["trainer.precision=bf16"], "trainer.precision"),
    ],
)
def test_what_dp_sgd_cannot_do_is_a_user_error(project, overrides, expected):
    sets = [a for o in overrides for a in ("--set", o)]
    result = modelyard("train", "config.yaml", "--output", "bad", *sets, cwd=project, check=2)
    error = result.stderr.split("\nerror: ", 1)[-1] if "\nerror: " in result.stderr else ""
    assert expected in (error or result.stderr.removeprefix("error: ")), result.stderr
    assert "Traceback" not in result.stderr
