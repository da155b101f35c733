"""model_type: gbdt: its config rules, its fit against scikit-learn's own, save and load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelyard import Model
from modelyard.config import checks, validate
from modelyard.config.schema import Config
from modelyard.errors import ConfigError
from tests.conftest import make_table

INPUTS = [
    {"name": "x1", "type": "number"},
    {"name": "x2", "type": "number"},
    {"name": "colour", "type": "category"},
    {"name": "flag", "type": "binary"},
]


def gbdt_config(outputs=None, **extra) -> dict:
    return {
        "name": "trees",
        "model_type": "gbdt",
        "data": {"split": {"validation": 0.25, "test": 0.2, "seed": 0}},
        "inputs": INPUTS,
        "outputs": outputs or [{"name": "label", "type": "category"}],
        "gbdt": {"max_iter": 30, "min_samples_leaf": 5},
        "baselines": False,
        **extra,
    }


def test_model_type_gbdt_alone_fills_in_the_gbdt_defaults():
    config = validate({k: v for k, v in gbdt_config().items() if k != "gbdt"})
    assert config.gbdt.max_iter == 100 and config.gbdt.early_stopping == 10
    assert validate(config.model_dump(mode="json")) == config  # config.yaml reads back as is


def test_network_settings_are_errors_with_gbdt_all_at_once():
    raw = gbdt_config(
        outputs=[
            {"name": "label", "type": "category", "label_smoothing": 0.1},
            {"name": "amount", "type": "number", "loss": "huber"},
        ],
        combiner={"type": "mlp", "hidden": [8]},
        trainer={"strategy": "fsdp", "early_stopping": {"patience": 3}},
        tracking={"mlflow": "sqlite:///runs.db"},
    )
    raw["data"] = {**raw["data"], "streaming": True}
    raw["inputs"] = [
        *INPUTS[:2],
        {"name": "colour", "type": "category", "encoder": {"type": "onehot"}},
    ]
    raw["inputs"].append({"name": "review", "type": "text"})
    with pytest.raises(ConfigError) as caught:
        validate(raw)
    message = str(caught.value)
    for expected in (
        "inputs[2].encoder: model_type gbdt has no encoders",
        "inputs[3]: input 'review' is text, but model_type gbdt takes only number, binary, category inputs",
        "outputs[0].label_smoothing: not available with model_type gbdt",
        "outputs[1].loss: model_type gbdt supports cross_entropy, binary_cross_entropy, mse, mae, not huber",
        "combiner: model_type gbdt has no combiner",
        "trainer.strategy: fsdp shards a network",
        "trainer.early_stopping: model_type gbdt stops by gbdt.early_stopping",
        "write gbdt: {early_stopping: 3} instead",
        "data.streaming: model_type gbdt fits on the training rows in memory",
        "tracking.mlflow: not recorded for model_type gbdt yet",
    ):
        assert expected in message


def test_a_gbdt_section_needs_model_type_gbdt():
    raw = {**gbdt_config(), "model_type": "neural"}
    found = checks.gbdt_settings_fit(Config.model_validate(raw))
    assert found == [
        "gbdt: applies to model_type: gbdt, but model_type is neural; add model_type: gbdt, or remove the gbdt section"
    ]
    assert checks.gbdt_settings_fit(Config.model_validate({**raw, "gbdt": None})) == []


@pytest.fixture(scope="module")
def trained():
    """A gbdt model of a category, a binary and a number output on the tiny mixed table."""
    outputs = [
        {"name": "label", "type": "category"},
        {"name": "flag_out", "type": "binary", "column": "flag"},
        {"name": "amount", "type": "number"},
    ]
    inputs = [f for f in INPUTS if f["name"] != "flag"]
    model = Model.from_config({**gbdt_config(outputs), "inputs": inputs})
    table = make_table(rows=240)
    return model.fit(table.iloc[:180], table.iloc[180:]), table


def test_outputs_are_what_heads_give_and_probabilities_sum_to_1(trained):
    model, table = trained
    predictions = model.predict(table, ids=False)
    label = predictions[["label_probability_no", "label_probability_yes"]].sum(axis=1)
    flag = predictions[["flag_out_probability_false", "flag_out_probability_true"]].sum(axis=1)
    assert np.allclose(label, 1.0, atol=1e-5) and np.allclose(flag, 1.0, atol=1e-5)
    assert (predictions["label_prediction"] == table["label"]).mean() > 0.8
    r2 = model.metrics["validation"]["amount.r2"]
    assert r2 > 0.8, r2  # amount = 3 x1 + noise: trees get most of it


def test_history_has_a_row_per_boosting_iteration(trained):
    model, _ = trained
    rows = model.history
    assert [r["epoch"] for r in rows] == list(range(1, len(rows) + 1))
    assert 1 <= len(rows) <= 30
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert all("validation_loss" in r for r in rows)


def test_probabilities_are_scikit_learns_own_on_the_same_matrix(trained):
    """Parity: the module's class probabilities are those of the fitted estimator itself."""
    from modelyard.models.gbdt import matrix

    model, table = trained
    prepared = model.preprocessing.prepare(table, "predict", labels=False)
    x = matrix(prepared.tensors, model.module.input_names)
    estimator = model.module.estimators["label"]
    expected = estimator.predict_proba(x)
    got = model.predict(table, ids=False)[["label_probability_no", "label_probability_yes"]]
    assert np.allclose(got.to_numpy(), expected, atol=1e-5)
    assert estimator.get_params()["categorical_features"].tolist() == [False, False, True]


def test_saved_and_loaded_gives_the_same_predictions(trained, tmp_path):
    model, table = trained
    model.save(tmp_path / "model")
    assert (tmp_path / "model/gbdt.pkl").is_file()
    loaded = Model.load(tmp_path / "model")
    pd.testing.assert_frame_equal(loaded.predict(table), model.predict(table))
    assert list(loaded.module.parameters()) == []  # weights.safetensors is empty


def test_a_gbdt_run_without_its_estimators_says_so(trained, tmp_path):
    from modelyard.errors import UserError

    model, _ = trained
    model.save(tmp_path / "model")
    (tmp_path / "model/gbdt.pkl").unlink()
    with pytest.raises(UserError, match="gbdt.pkl' is missing: the gbdt run did not finish"):
        Model.load(tmp_path / "model")


def test_a_validation_class_unseen_in_training_is_an_error_not_a_crash():
    table = make_table(rows=120)
    validation = table.iloc[90:].copy()
    validation.loc[validation.index[:5], "label"] = "maybe"
    model = Model.from_config(gbdt_config()).fit(table.iloc[:90], validation)
    assert model.metrics["validation"]["rows"] == 30


def test_no_validation_rows_runs_every_iteration(capsys):
    config = gbdt_config()
    config["data"]["split"] = {"validation": 0.0, "test": 0.0}
    model = Model.from_config(config).fit(make_table(rows=120))
    assert len(model.history) == 30
    assert "no validation rows, so all gbdt.max_iter iterations run" in capsys.readouterr().err


def test_several_processes_under_torchrun_are_a_user_error():
    from modelyard.errors import UserError
    from modelyard.models import gbdt
    from modelyard.train.distributed import Processes

    model = Model.from_config(gbdt_config())
    with pytest.raises(UserError, match="model_type gbdt trains in one process"):
        gbdt.train(model, (make_table(), None, None), None, Processes(rank=1, world=2))


def test_rows_missing_one_outputs_label_still_train_the_other_output():
    table = make_table(rows=160)
    table.loc[table.index[::4], "amount"] = np.nan
    outputs = [{"name": "label", "type": "category"}, {"name": "amount", "type": "number"}]
    model = Model.from_config(gbdt_config(outputs)).fit(table)
    assert len(model.module.estimators["label"].classes_) == 2
    assert model.module.estimators["amount"].n_iter_ > 0
    assert model.metrics["test"]["amount.r2"] > 0.5
