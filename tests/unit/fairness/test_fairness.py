"""modelyard.fairness against fairlearn itself on random data: per-group metrics, parity
differences, and the JSON thresholds' decisions against ThresholdOptimizer.predict."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modelyard.errors import UserError
from modelyard.fairness import check_groups
from modelyard.fairness.metrics import binary_fairness, class_fairness, flat, group_keys
from modelyard.fairness.thresholds import decide, fit_thresholds, fitted_optimizer


def _scores(rows: int = 900, seed: int = 0):
    """(probability, 0/1 truth, groups): group 'a' scores higher and is more often positive."""
    rng = np.random.default_rng(seed)
    groups = rng.choice(["a", "b", "c"], size=rows, p=[0.5, 0.3, 0.2]).astype(object)
    probability = rng.random(rows)
    probability[groups == "a"] **= 0.5
    truth = (rng.random(rows) < probability).astype(int)
    return probability, truth, groups


@pytest.mark.parametrize("constraint", ["demographic_parity", "equalized_odds"])
def test_json_thresholds_decide_as_fairlearns_predict(constraint):
    probability, truth, groups = _scores()
    args = (probability, truth, groups, constraint, "accuracy_score", 100)
    table = json.loads(json.dumps(fit_thresholds(*args), allow_nan=False))  # strict JSON
    theirs = fitted_optimizer(*args)
    new_p, _, new_groups = _scores(rows=500, seed=1)  # other rows than those it was fitted on
    for seed in (0, 7):
        expected = theirs.predict(
            new_p.reshape(-1, 1), sensitive_features=new_groups, random_state=seed
        )
        assert np.array_equal(decide(table, new_p, new_groups, seed), expected)
    if constraint == "equalized_odds":  # its rule falls back to a constant with p_ignore
        assert any("p_ignore" in rule for rule in table.values())


def test_infinite_thresholds_are_stored_as_text():
    table = {
        "a": {
            "p0": 1.0,
            "operation0": {"operator": ">", "threshold": "-inf"},
            "p1": 0.0,
            "operation1": {"operator": "<", "threshold": "inf"},
        }
    }
    decided = decide(table, np.array([0.0, 0.5, 1.0]), np.array(["a", "a", "a"], dtype=object), 0)
    assert decided.tolist() == [1, 1, 1]


def test_a_group_the_thresholds_never_saw_is_a_user_error():
    probability, truth, groups = _scores(rows=300)
    table = fit_thresholds(probability, truth, groups, "demographic_parity", grid_size=50)
    with pytest.raises(
        UserError, match=r"group 'd' was not among .*\(known groups: 'a', 'b', 'c'\)"
    ):
        decide(table, np.array([0.4]), np.array(["d"], dtype=object), 0)


def test_per_group_metrics_equal_fairlearns_metricframe():
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        equalized_odds_difference,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score

    probability, truth, groups = _scores()
    decided = (probability > 0.55).astype(int)
    found = binary_fairness(truth, decided, probability, groups)
    frame = MetricFrame(
        metrics={
            "accuracy": accuracy_score,
            "selection_rate": selection_rate,
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
        },
        y_true=truth,
        y_pred=decided,
        sensitive_features=groups,
    )
    table = pd.DataFrame({"p": probability, "y": truth, "g": groups}).groupby("g")
    for group, values in frame.by_group.to_dict("index").items():
        ours = found["groups"][group]
        assert {k: ours[k] for k in values} == pytest.approx(values)
        assert ours["mean_probability"] == pytest.approx(table["p"].mean()[group])
        assert ours["positive_rate"] == pytest.approx(table["y"].mean()[group])
        assert ours["rows"] == int((groups == group).sum())
    assert found["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(truth, decided, sensitive_features=groups)
    )
    assert found["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(truth, decided, sensitive_features=groups)
    )
    names = flat(found, "fairness.sex")
    assert names["fairness.sex.b.selection_rate"] == found["groups"]["b"]["selection_rate"]
    assert "fairness.sex.demographic_parity_difference" in names


def test_category_outputs_get_per_group_accuracy():
    truth = np.array([0, 1, 2, 2, 1, 0])
    chosen = np.array([0, 1, 1, 2, 1, 2])
    groups = np.array(["x", "x", "x", "y", "y", "y"], dtype=object)
    found = class_fairness(truth, chosen, groups)
    assert found["groups"]["x"] == {"accuracy": pytest.approx(2 / 3), "rows": 3}
    assert found["accuracy_difference"] == pytest.approx(0.0)


def test_group_keys_join_columns_and_name_missing_values():
    frame = pd.DataFrame({"sex": ["f", None, "m"], "age": [30, 40, np.nan]})
    assert group_keys(frame, ["sex"]).tolist() == ["f", "(missing)", "m"]
    assert group_keys(frame, ["sex", "age"]).tolist() == ["f,30.0", "(missing),40.0", "m,(missing)"]


def test_a_small_validation_group_is_named():
    from modelyard.config.schema.evaluation import Evaluation

    settings = Evaluation(sensitive=["sex"], mitigation={"min_group_rows": 3})
    frame = pd.DataFrame({"sex": ["f"] * 5 + ["m"] * 2})
    with pytest.raises(
        UserError, match=r"group 'm' \(2\) of sex has fewer than 3 rows .*\(v.csv\)"
    ):
        check_groups(frame, settings, "v.csv")
    with pytest.raises(UserError, match="has no column 'sx' .*did you mean 'sex'"):
        check_groups(frame, Evaluation(sensitive=["sx"], mitigation={}), "v.csv")


def test_evaluate_scores_each_classification_output_under_its_name():
    """Two outputs (binary and category), a sensitive column that is not an input: flat names
    prefixed by the output, numbers equal to fairlearn's on the same decisions."""
    import torch
    from fairlearn.metrics import MetricFrame, demographic_parity_difference
    from sklearn.metrics import accuracy_score

    from modelyard import fairness
    from modelyard.config import validate
    from modelyard.data.features import Preprocessing

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=60),
            "g": rng.choice(["u", "v"], size=60),
            "label": rng.choice(["no", "yes"], size=60),
            "kind": rng.choice(["p", "q", "r"], size=60),
        }
    )
    config = validate(
        {
            "inputs": [{"name": "x", "type": "number"}],
            "outputs": [
                {"name": "label", "type": "binary", "positive": "yes"},
                {"name": "kind", "type": "category"},
            ],
            "evaluation": {"sensitive": ["g"]},
        }
    )
    preprocessing = Preprocessing(config)
    preprocessing.fit(frame)
    table = preprocessing.prepare(frame, "test")
    outputs = {"label": torch.randn(60), "kind": torch.randn(60, 3)}
    found, details = fairness.evaluate(preprocessing, outputs, table, config.evaluation, None, "t")
    decided = (torch.sigmoid(outputs["label"]) >= 0.5).numpy().astype(int)
    truth = (frame["label"] == "yes").astype(int).to_numpy()
    assert found["label.fairness.g.demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(truth, decided, sensitive_features=frame["g"])
    )
    vocab = preprocessing.outputs[1].vocab
    chosen = np.array(vocab)[outputs["kind"].argmax(dim=1).numpy()]
    by_group = MetricFrame(
        metrics=accuracy_score, y_true=frame["kind"], y_pred=chosen, sensitive_features=frame["g"]
    ).by_group
    for group in ("u", "v"):
        assert found[f"kind.fairness.g.{group}.accuracy"] == pytest.approx(by_group[group])
    assert "kind.fairness.g.demographic_parity_difference" not in found
    assert details["label"]["columns"] == {"g": {"input": False}}
