"""Row attributions: the feature the label depends on comes first; IG is complete."""

from __future__ import annotations

import pytest

from modelyard.explain import explain
from tests.unit.explain.conftest import x1_table


@pytest.mark.parametrize("method", ["integrated_gradients", "shap", "lime", "ablation"])
def test_x1_gets_the_largest_global_attribution(x1_model, method):
    found = explain(x1_model, x1_table(40, seed=1), method, rows=12)
    assert set(found["global"]) == {"x1", "x2", "x3", "colour"}
    assert max(found["global"], key=found["global"].get) == "x1", found["global"]
    assert len(found["rows"]) == 12 and found["method"] == method


@pytest.mark.parametrize("model", ["x1_model", "amount_model"])
def test_integrated_gradients_are_complete(model, request):
    """sum of attributions ~ f(x) - f(baseline), for a class probability and a number value."""
    found = explain(request.getfixturevalue(model), x1_table(8, seed=2), rows=8)
    for row in found["rows"]:
        change = row["value"] - row["baseline_value"]
        total = sum(row["attributions"].values())
        assert total == pytest.approx(change, abs=0.01 * max(1.0, abs(change)))


def test_shap_is_complete_too(x1_model):
    """KernelShap's coefficients sum to f(x) - f(baseline) by construction."""
    for row in explain(x1_model, x1_table(4, seed=3), "shap", rows=4)["rows"]:
        total = sum(row["attributions"].values())
        assert total == pytest.approx(row["value"] - row["baseline_value"], abs=1e-3)


def test_target_class_is_explained_for_every_row(x1_model):
    found = explain(x1_model, x1_table(6, seed=4), rows=6, target="no")
    assert found["target"] == "no" and {r["target"] for r in found["rows"]} == {"no"}
    predicted = explain(x1_model, x1_table(6, seed=4), rows=6)
    assert [r["target"] for r in predicted["rows"]] == [r["prediction"] for r in predicted["rows"]]


def test_number_output_explains_its_value(amount_model):
    row = explain(amount_model, x1_table(3, seed=5), rows=1)["rows"][0]
    assert row["target"] == "amount" and row["prediction"] == pytest.approx(row["value"])
