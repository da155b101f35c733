"""Honest evaluation: every labelled row is scored (unseen classes count as errors, inputs are
filled as in prediction), texts against their raw references, and metrics say how many rows
they cover and which were left out, and why."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelyard import Model
from modelyard.metrics.translation import translation_metrics
from tests.conftest import make_table


def _config(outputs=None, x1: dict | None = None, epochs: int = 2) -> dict:
    return {
        "data": {"split": {"validation": 0.0, "test": 0.0}},
        "inputs": [
            {"name": "x1", "type": "number", **({"preprocessing": x1} if x1 else {})},
            {"name": "colour", "type": "category"},
        ],
        "outputs": outputs or [{"name": "label", "type": "category"}],
        "combiner": {"type": "mlp", "hidden": [8]},
        "trainer": {"epochs": epochs, "batch_size": 16, "optimizer": {"type": "adam", "lr": 0.05}},
    }


def _accuracy(model: Model, frame: pd.DataFrame, output: str = "label") -> float:
    predicted = model.predict(frame, ids=False)[f"{output}_prediction"]
    return float((predicted.to_numpy() == frame[output].to_numpy()).mean())


def test_an_unseen_test_class_counts_as_an_error_and_is_recorded():
    test = make_table(40, seed=5)
    test.loc[:9, "label"] = "maybe"  # a class the training data never had
    model = Model.from_config(_config()).fit(
        train=make_table(120), validation=make_table(30, seed=4), test=test
    )
    metrics = model.metrics["test"]
    seen_only = model.evaluate(test.iloc[10:])
    assert metrics["rows"] == 40 and metrics["rows_unseen_class"] == 10
    assert "rows_left_out" not in metrics
    assert metrics["accuracy"] == pytest.approx(_accuracy(model, test))
    assert metrics["accuracy"] == pytest.approx(seen_only["accuracy"] * 30 / 40)
    assert metrics["log_loss"] == pytest.approx(seen_only["log_loss"])  # seen-class rows only
    assert model.evaluate(test)["accuracy"] == pytest.approx(metrics["accuracy"])


def test_an_unseen_binary_label_counts_as_an_error():
    outputs = [{"name": "label", "type": "binary", "positive": "yes"}]
    model = Model.from_config(_config(outputs)).fit(train=make_table(120))
    frame = make_table(40, seed=5)
    frame.loc[:3, "label"] = "maybe"
    metrics = model.evaluate(frame)
    assert metrics["rows"] == 40 and metrics["rows_unseen_class"] == 4
    assert metrics["accuracy"] == pytest.approx(_accuracy(model, frame))


def test_rows_without_a_label_are_left_out_with_the_reason():
    model = Model.from_config(_config()).fit(train=make_table(120))
    frame = make_table(30, seed=5)
    frame.loc[[2, 7], "label"] = None
    metrics = model.evaluate(frame)
    assert metrics["rows"] == 28
    assert metrics["rows_left_out"] == {"no 'label' label": 2}


def test_missing_drop_leaves_out_training_rows_only():
    train = make_table(120)
    train.loc[:5, "x1"] = np.nan
    model = Model.from_config(_config(x1={"missing": "drop"})).fit(train=train)
    frame = make_table(40, seed=5)
    frame.loc[:9, "x1"] = np.nan
    metrics = model.evaluate(frame)
    assert metrics["rows"] == 40 and "rows_left_out" not in metrics
    assert metrics["accuracy"] == pytest.approx(_accuracy(model, frame))


def test_a_missing_label_of_one_output_leaves_the_row_to_the_others():
    outputs = [{"name": "label", "type": "category"}, {"name": "amount", "type": "number"}]
    train = make_table(120)
    train.loc[:29, "amount"] = np.nan
    model = Model.from_config(_config(outputs)).fit(train=train)
    assert all(np.isfinite(row["train_loss"]) for row in model.history)
    frame = make_table(40, seed=5)
    frame.loc[:9, "amount"] = np.nan
    metrics = model.evaluate(frame)
    assert metrics["rows"] == 40 and metrics["label.rows"] == 40
    assert metrics["amount.rows"] == 30
    assert metrics["amount.rows_left_out"] == {"no 'amount' label": 10}
    assert metrics["label.accuracy"] == pytest.approx(_accuracy(model, frame))
    predicted = model.predict(frame.iloc[10:], ids=False)["amount_prediction"]
    mse = float(((predicted.to_numpy() - frame["amount"].iloc[10:].to_numpy()) ** 2).mean())
    assert metrics["amount.mse"] == pytest.approx(mse, rel=1e-5)


def _digits(rows: int, seed: int, extra: str = "") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    texts = [" ".join(str(d) for d in rng.integers(0, 10, rng.integers(2, 5))) for _ in range(rows)]
    return pd.DataFrame({"digits": texts, "copy": [t + extra for t in texts]})


def test_text_metrics_score_the_raw_references():
    small = {"dim": 16, "layers": 1, "heads": 2, "dropout": 0.0}
    config = {
        "data": {"split": {"validation": 0.0, "test": 0.0}},
        "inputs": [
            {
                "name": "digits",
                "type": "text",
                "encoder": {"type": "transformer", **small},
                "preprocessing": {"tokenizer": "whitespace", "min_frequency": 1},
            }
        ],
        "outputs": [
            {
                "name": "copy",
                "type": "text",
                "decoder": {"type": "transformer", **small, "max_length": 8},
                "preprocessing": {"tokenizer": "characters", "max_length": 6},
            }
        ],
        "trainer": {"epochs": 10, "batch_size": 16, "optimizer": {"type": "adam", "lr": 0.01}},
    }
    model = Model.from_config(config).fit(train=_digits(40, 0))
    frame = _digits(12, 1, extra=" ﬁx")  # an unseen letter, a ligature NFKC rewrites, cut off
    predicted = model.predict(frame, ids=False)["copy_prediction"].tolist()
    feature = model.preprocessing.outputs[0]
    rebuilt = feature.decode(feature.transform(frame["copy"]))  # what the ids keep of them
    expected = translation_metrics(frame["copy"].tolist(), predicted)
    assert expected["chrf"] != pytest.approx(translation_metrics(rebuilt, predicted)["chrf"])
    found = model.evaluate(frame)
    assert found["chrf"] == pytest.approx(expected["chrf"])
    assert found["bleu"] == pytest.approx(expected["bleu"])


def test_evaluate_on_rows_of_unseen_classes_only_scores_them_as_errors():
    """No row of a class seen in training: every row is an error, and the report's confusion
    matrix (seen classes only) is empty rather than a crash inside scikit-learn."""
    model = Model.from_config(_config()).fit(train=make_table(120))
    frame = make_table(20, seed=7).assign(label="maybe")
    metrics = model.evaluate(frame)
    assert metrics["accuracy"] == 0.0 and metrics["rows_unseen_class"] == 20
