"""Permutation importance: the metric drops most when x1 is shuffled."""

from __future__ import annotations

from modelyard.explain import explain
from tests.unit.explain.conftest import x1_table


def test_shuffling_x1_drops_accuracy_most(x1_model):
    found = explain(x1_model, x1_table(200, seed=6), "permutation")
    assert found["metric"] == "accuracy" and found["rows"] == [] and found["rows_used"] == 200
    assert max(found["global"], key=found["global"].get) == "x1"
    assert found["global"]["x1"] > 0.3 and abs(found["global"]["x2"]) < 0.1
    assert set(found["std"]) == {"x1", "x2", "x3", "colour"}


def test_number_output_uses_r2(amount_model):
    found = explain(amount_model, x1_table(100, seed=7), "permutation", rows=50)
    assert found["metric"] == "r2" and found["rows_used"] == 50
    assert max(found["global"], key=found["global"].get) == "x1"
