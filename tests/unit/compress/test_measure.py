"""The before/after table."""

from __future__ import annotations

from modelyard.compress import measure
from tests.unit.compress.helpers import inputs, tiny_model


def test_latency_is_a_positive_median_in_milliseconds():
    model = tiny_model()
    assert 0 < measure.latency_ms(model.module, inputs(model, rows=5), 32, repeats=3) < 1000


def test_table_rows_have_ratios_and_the_task_metric():
    figures = {
        "parameters": 100,
        "nonzero_parameters": 90,
        "linear_weight_bytes": 400,
        "weights_bytes": 800,
    }
    figures |= {"latency_ms_batch_1": 1.0, "latency_ms_batch_32": 2.0}
    before = {**figures, "metrics": {"loss": 0.3, "accuracy": 0.9, "f1_macro": 0.8}}
    after = {
        **figures,
        "parameters": 50,
        "metrics": {"loss": 0.4, "accuracy": 0.85, "f1_macro": 0.7},
    }
    rows = {r["figure"]: r for r in measure.table(before, after)}
    assert rows["parameters"]["ratio"] == 0.5
    assert rows["accuracy"]["after"] == 0.85 and "f1_macro" not in rows
    text = measure.markdown(list(rows.values()), "t")
    assert "| parameters | 100 | 50 | 0.5 |" in text
