"""scikit-learn baselines beside a row model (modelyard.baselines): metrics.json, log, report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modelyard import Model, UserError
from tests.conftest import make_table, tiny_config

ROW_COUNTS = {"rows", "rows_left_out", "rows_unseen_class"}


def _given_splits(config: dict) -> dict:
    config["data"] = {"split": {"validation": 0.0, "test": 0.0}}
    return config


def test_baselines_are_scored_with_the_model_metric_names(tmp_path, capsys):
    config = _given_splits(tiny_config(epochs=1))
    Model.from_config(config).fit(
        train=make_table(120, seed=1),
        validation=make_table(40, seed=2),
        test=make_table(40, seed=3),
        output_dir=tmp_path / "run",
    )
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    baselines = metrics["baselines"]
    assert list(baselines) == [
        "logistic_regression",
        "gradient_boosting",
        "tfidf_logistic_regression",
    ]
    for found in baselines.values():
        for split in ("validation", "test"):
            assert set(found[split]) == set(metrics[split]) - ROW_COUNTS
    # the label follows x1 and the colour, and the words of the text: both baselines learn it
    assert baselines["logistic_regression"]["test"]["accuracy"] > 0.8
    assert baselines["tfidf_logistic_regression"]["test"]["accuracy"] > 0.8
    logged = capsys.readouterr().err
    assert "baseline gradient_boosting: validation accuracy " in logged
    assert "Model vs baselines" in (tmp_path / "run" / "report.html").read_text()


def test_baselines_false_fits_none(tmp_path):
    config = _given_splits(tiny_config(epochs=1))
    config["baselines"] = False
    model = Model.from_config(config).fit(
        train=make_table(80, seed=1), validation=make_table(30, seed=2)
    )
    assert "baselines" not in model.metrics


def _linear_rows(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    target = 10 * x1 - 5 * x2 + rng.normal(scale=0.1, size=rows)
    return pd.DataFrame({"x1": x1, "x2": x2, "target": target})


def test_a_better_linear_baseline_is_said_in_the_log_and_the_report(tmp_path, capsys):
    config = {
        "data": {"split": {"validation": 0.0, "test": 0.0}},
        "inputs": [{"name": "x1", "type": "number"}, {"name": "x2", "type": "number"}],
        "outputs": [{"name": "target", "type": "number"}],
        "trainer": {"epochs": 1, "optimizer": {"type": "adam", "lr": 1e-6}},
    }
    model = Model.from_config(config).fit(
        train=_linear_rows(200, 1),
        validation=_linear_rows(50, 2),
        test=_linear_rows(50, 3),
        output_dir=tmp_path / "run",
    )
    ridge = model.metrics["baselines"]["ridge"]["validation"]["rmse"]
    assert ridge < 0.5 < model.metrics["validation"]["rmse"]
    sentence = "The baseline ridge beats the model on validation rmse: "
    assert sentence in capsys.readouterr().err
    assert sentence in (tmp_path / "run" / "report.html").read_text()


def _classes(rows: int, seed: int) -> pd.DataFrame:
    """Classes a (x > 0) and b (x < 0), far apart: every baseline separates them exactly."""
    rng = np.random.default_rng(seed)
    x = rng.choice([-1.0, 1.0], size=rows) * (1 + rng.random(rows))
    return pd.DataFrame({"x": x, "label": np.where(x > 0, "a", "b")})


def test_a_class_unseen_in_training_is_an_error_for_the_baselines_too():
    config = {
        "data": {"split": {"validation": 0.0, "test": 0.0}},
        "inputs": [{"name": "x", "type": "number"}],
        "outputs": [{"name": "label", "type": "category"}],
        "trainer": {"epochs": 1},
    }
    test = _classes(40, 3)
    test.loc[:9, "label"] = "c"  # 10 of 40 rows of a class the training rows lack
    model = Model.from_config(config).fit(
        train=_classes(200, 1), validation=_classes(40, 2), test=test
    )
    assert model.metrics["test"]["rows_unseen_class"] == 10
    for found in model.metrics["baselines"].values():
        assert found["validation"]["accuracy"] == 1.0
        assert found["test"]["accuracy"] == pytest.approx(30 / 40)


def test_baselines_must_be_true_or_false():
    config = tiny_config()
    config["baselines"] = "sometimes"
    with pytest.raises(UserError, match="baselines"):
        Model.from_config(config)


def test_images_and_text_outputs_get_a_note_instead_of_baselines():
    from types import SimpleNamespace as Feature

    from modelyard.baselines import skip_reason

    number, label = Feature(name="x", type="number"), Feature(name="label", type="category")
    image, summary = Feature(name="photo", type="image"), Feature(name="summary", type="text")
    assert skip_reason(Feature(inputs=[number], outputs=[label])) is None
    assert "image or audio inputs (photo)" in skip_reason(
        Feature(inputs=[number, image], outputs=[label])
    )
    assert "output summary is not a value per row" in skip_reason(
        Feature(inputs=[number], outputs=[summary])
    )


class _RecordingWorker:
    """Stands in for baselines.worker(): records what the run asked of it."""

    made: list[_RecordingWorker] = []

    def __init__(self) -> None:
        self.calls: list[str] = []
        _RecordingWorker.made.append(self)

    def submit(self, preprocessing, tables, seed):
        from concurrent.futures import Future

        from modelyard.baselines import _jobs, fit_predict

        self.calls.append("submit")
        future: Future = Future()
        future.set_result(fit_predict(_jobs(preprocessing, tables, seed)))
        return future

    def cancel(self) -> None:
        self.calls.append("cancel")


def test_the_baselines_process_starts_before_the_data_and_ends_with_a_failed_run(monkeypatch):
    from modelyard import baselines

    monkeypatch.setattr(baselines, "worker", _RecordingWorker)
    _RecordingWorker.made.clear()
    config = _given_splits(tiny_config(epochs=1))
    model = Model.from_config(config).fit(
        train=make_table(60, seed=1), validation=make_table(20, seed=2)
    )
    assert [w.calls for w in _RecordingWorker.made] == [["submit"]]
    assert set(model.metrics["baselines"]) == {"logistic_regression", "gradient_boosting"} | {
        "tfidf_logistic_regression"
    }
    _RecordingWorker.made.clear()
    with pytest.raises(UserError):
        Model.from_config(config).fit(train=make_table(60, seed=1).drop(columns=["x1"]))
    assert [w.calls for w in _RecordingWorker.made] == [["cancel"]]


def test_the_baselines_process_fits_what_it_is_sent_and_nothing_without_input():
    import pickle
    import subprocess
    import sys

    from modelyard.baselines import Worker

    idle = subprocess.run(
        [sys.executable, "-c", "from modelyard.baselines import serve_jobs; serve_jobs()"],
        input=b"",
        capture_output=True,
        check=True,
    )
    assert idle.stdout == b""
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    job = {
        "name": "linear",
        "estimator": ("linear", ()),
        "train": x,
        "splits": {"test": x},
        "outputs": [
            {"name": "y", "kind": "regressor", "rows": np.arange(4), "target": 2 * x[:, 0]}
        ],
    }
    found = Worker()._run([job])
    from sklearn.linear_model import Ridge

    expected = Ridge(alpha=1.0).fit(x, 2 * x[:, 0]).predict(x)
    np.testing.assert_allclose(found["linear"]["test"]["y"], expected, atol=1e-9)
    assert pickle.dumps(found)  # plain arrays


def test_baselines_get_a_process_of_their_own_unless_scikit_learn_is_loaded(monkeypatch):
    import sys

    import sklearn.linear_model  # noqa: F401

    from modelyard import baselines

    assert isinstance(baselines.worker(), baselines.LocalWorker)
    monkeypatch.delitem(sys.modules, "sklearn.linear_model")
    separate = baselines.worker()
    assert isinstance(separate, baselines.Worker)
    separate.cancel()
    assert separate.process.returncode is not None  # ended
