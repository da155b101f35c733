"""README's "Defaults that hold up against those baselines" table: configs with only data,
inputs and outputs, against the baselines of the same runs (bench/tabular_defaults.py's
configs, split seeds 0-4). About 1 minute on 2 cores (Adult is left out: it needs
examples/adult/prepare.py).

The runs repeat exactly with their seeds, so the means are checked to the README's rounding.
"""

from __future__ import annotations

import importlib.util
import statistics
from pathlib import Path

import pytest

from tests.slow.helpers import README

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

BENCH = Path(__file__).resolve().parents[2] / "bench" / "tabular_defaults.py"
STATED = {  # table: (model, best baseline, its name), as README.md states them
    "penguins": (1.0, 1.0, "logistic_regression"),
    "wine": (0.9833, 0.9722, "logistic_regression"),
    "breast_cancer": (0.9702, 0.9754, "logistic_regression"),
    "diabetes": (55.77, 54.81, "ridge"),
}


def _bench():
    spec = importlib.util.spec_from_file_location("tabular_defaults", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("table", list(STATED))
def test_default_model_against_the_best_baseline_as_readme_states(table, tmp_path):
    bench = _bench()
    model, baseline = [], []
    model_stated, baseline_stated, name = STATED[table]
    for seed in range(5):
        metrics, _ = bench._train(bench._config(table, seed, tmp_path), tmp_path / f"run{seed}")
        metric = "rmse" if table == "diabetes" else "accuracy"
        model.append(metrics["test"][metric])
        baseline.append(metrics["baselines"][name]["test"][metric])
    digits = 2 if table == "diabetes" else 4
    assert round(statistics.mean(model), digits) == pytest.approx(model_stated)
    assert round(statistics.mean(baseline), digits) == pytest.approx(baseline_stated)
    if table == "diabetes":
        assert statistics.mean(model) <= 1.05 * statistics.mean(baseline)  # the bar
    else:
        assert statistics.mean(model) >= statistics.mean(baseline) - 0.01
    assert f"| {model_stated:.{digits}f} | {name} {baseline_stated:.{digits}f} |" in (
        README.read_text(encoding="utf-8")
    )
