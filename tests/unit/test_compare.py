"""compare.py's pieces: dotted config differences, metric rows, the best run by direction."""

from __future__ import annotations

from modelyard.compare import MISSING, _metric_rows, best, differing_keys, flatten, shown


def test_flatten_gives_dotted_keys_with_list_indices():
    config = {"inputs": [{"name": "x", "encoder": {"type": "mlp"}}], "trainer": {"lr": 0.1}}
    assert flatten(config) == {
        "inputs[0].name": "x",
        "inputs[0].encoder.type": "mlp",
        "trainer.lr": 0.1,
    }
    assert flatten({"hidden": [], "extra": {}}) == {"hidden": [], "extra": {}}


def test_differing_keys_are_those_not_equal_everywhere_including_absent_ones():
    a = {"trainer": {"lr": 0.1, "epochs": 3}, "combiner": {"hidden": [16]}}
    b = {"trainer": {"lr": 0.01, "epochs": 3}, "combiner": {"hidden": [16, 8]}}
    c = {"trainer": {"lr": 0.1, "epochs": 3}, "combiner": {"hidden": [16]}}
    assert differing_keys([a, b, c]) == ["trainer.lr", "combiner.hidden[1]"]
    assert differing_keys([a, c]) == []
    assert differing_keys([{"x": 1}, {"x": 1.0}]) == []  # a YAML 1 and 1.0 are the same value


def test_best_follows_each_metrics_direction_and_ignores_counts_and_ties():
    assert best("accuracy", [0.8, 0.9, None]) == {1}
    assert best("label.mse", [0.3, 0.2]) == {1}  # lower is better, output prefix ignored
    assert best("recall_at_10", [0.1, 0.3]) == {1}
    assert best("mean_rank", [12.0, 30.0]) == {0}
    assert best("hits_at_3", [1.0, 0.5, 1.0]) == {0, 2}  # a tie: both marked
    assert best("hits_at_10", [1.0, 1.0]) == set()  # all the same: nobody wins
    assert best("rows", [10, 20]) == set() and best("label.rows", [1, 2]) == set()
    assert best("made_up_metric", [1.0, 2.0]) == set()
    assert best("accuracy", [0.5, None]) == set()


def test_metric_rows_take_flat_splits_and_skip_baselines():
    metrics = [
        {"validation": {"accuracy": 0.5, "rows": 10}, "baselines": {"x": {"accuracy": 1}}},
        {"validation": {"accuracy": 0.7, "rows": 10}, "test": {"accuracy": 0.6}},
    ]
    rows = _metric_rows(metrics)
    assert list(rows) == ["validation", "test"]
    assert rows["validation"] == [("accuracy", [0.5, 0.7]), ("rows", [10, 10])]
    assert rows["test"] == [("accuracy", [None, 0.6])]
    assert [shown(v) for v in (0.5, 10, None)] == ["0.5000", "10", MISSING]
