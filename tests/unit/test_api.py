"""The Python API on DataFrames: fit, evaluate, predict, save and load."""

from __future__ import annotations

import pandas as pd
import pytest

from modelyard import Model, UserError
from tests.conftest import make_table, tiny_config


@pytest.fixture(scope="module")
def trained() -> Model:
    config = tiny_config(epochs=4)
    config["data"] = {"split": {"validation": 0.0, "test": 0.0}, "id_columns": ["id"]}
    return Model.from_config(config).fit(
        train=make_table(200, seed=1),
        validation=make_table(60, seed=2),
        test=make_table(60, seed=3),
    )


def test_fit_on_dataframes_fills_metrics_and_history(trained):
    assert set(trained.metrics) == {"validation", "test", "baselines"}
    assert trained.metrics["test"]["accuracy"] > 0.75
    assert [row["epoch"] for row in trained.history] == [1, 2, 3, 4]
    assert trained.history[-1]["train_loss"] < trained.history[0]["train_loss"]


def test_evaluate_matches_the_metrics_of_fit(trained):
    again = trained.evaluate(make_table(60, seed=3))
    assert again["accuracy"] == pytest.approx(trained.metrics["test"]["accuracy"])
    assert again["log_loss"] == pytest.approx(trained.metrics["test"]["log_loss"], rel=1e-5)


def test_predict_keeps_rows_and_ids_even_with_missing_inputs(trained):
    frame = make_table(30, seed=4).drop(columns=["label"])
    frame.loc[0, "x1"] = None
    frame.loc[1, "colour"] = "purple"  # not seen in training: the unknown category
    frame.loc[2, "review"] = None
    predictions = trained.predict(frame)
    assert len(predictions) == 30
    assert predictions["id"].tolist() == frame["id"].tolist()
    assert predictions["label_probability_yes"].between(0, 1).all()


def test_save_and_load_give_identical_predictions(trained, tmp_path):
    frame = make_table(40, seed=5)
    trained.save(tmp_path / "saved")
    assert sorted(p.name for p in (tmp_path / "saved").iterdir()) == [
        "meta.json",
        "modelyard.json",
        "preprocessing.json",
        "weights.safetensors",
    ]
    loaded = Model.load(tmp_path / "saved")
    pd.testing.assert_frame_equal(loaded.predict(frame), trained.predict(frame))


def test_same_seed_gives_the_same_model():
    config = tiny_config(epochs=2)
    frame = make_table(120, seed=7)
    first = Model.from_config(config).fit(train=frame)
    second = Model.from_config(config).fit(train=frame)
    pd.testing.assert_frame_equal(first.predict(frame), second.predict(frame))


def test_untrained_model_and_missing_run_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="not trained yet"):
        Model.from_config(tiny_config()).predict(make_table(5))
    with pytest.raises(UserError, match="does not exist"):
        Model.load(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no saved model"):
        Model.load(tmp_path / "empty")


def test_fit_without_data_says_what_to_do():
    config = tiny_config()
    config["data"] = {}
    with pytest.raises(UserError, match="no training data given"):
        Model.from_config(config).fit()


def test_run_directory_errors_name_the_python_arguments_too(tmp_path):
    """From Python there is no --resume: messages give the keyword and the flag."""
    (tmp_path / "run").mkdir()
    (tmp_path / "run/other.txt").write_text("x")
    model = Model.from_config(tiny_config())
    with pytest.raises(UserError) as taken:
        model.fit(train=make_table(20), output_dir=tmp_path / "run")
    assert "resume=True / --resume" in str(taken.value)
    assert "overwrite=True / --overwrite" in str(taken.value)
    with pytest.raises(UserError) as nothing:
        model.fit(train=make_table(20), output_dir=tmp_path / "new", resume=True)
    assert "resume=True / --resume" in str(nothing.value) and "no checkpoint" in str(nothing.value)


# --- pandas in, pandas out


def test_predict_keeps_the_input_frames_index(trained):
    frame = make_table(20, seed=6).drop(columns=["label"])
    frame = frame.iloc[::2].set_index(pd.Index([f"r{i}" for i in range(10)]))
    predictions = trained.predict(frame)
    assert predictions.index.equals(frame.index)
    frame["label"] = predictions["label_prediction"]  # assigning back aligns: no NaN
    assert frame["label"].notna().all()


def small_model(label) -> Model:
    config = tiny_config(epochs=1)
    config["data"] = {"split": {"validation": 0.0, "test": 0.0}}
    config["inputs"] = config["inputs"][:2]
    frame = make_table(40, seed=1)
    return Model.from_config(config).fit(train=frame.assign(label=label(frame)))


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        (lambda f: (f["x1"] > 0).astype(int), int),
        (lambda f: f["x1"] > 0, bool),
        (lambda f: pd.array((f["x1"] > 0).astype(int), dtype="Int64"), int),
    ],
)
def test_predict_returns_labels_in_their_own_type(label, kind, tmp_path):
    model = small_model(label)
    predictions = model.predict(make_table(5, seed=2))["label_prediction"]
    assert all(type(v) is kind for v in predictions.tolist())
    model.save(tmp_path / "m")
    again = Model.load(tmp_path / "m").predict(make_table(5, seed=2))["label_prediction"]
    pd.testing.assert_series_equal(again, predictions)


def test_save_before_fit_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not trained yet"):
        Model.from_config(tiny_config()).save(tmp_path / "m")


def test_given_validation_frame_means_no_test_is_carved_from_train():
    config = tiny_config(epochs=1)
    del config["data"]["split"]
    model = Model.from_config(config).fit(train=make_table(100), validation=make_table(30, seed=2))
    assert set(model.metrics) == {"validation", "baselines"}
    assert model.config.data.split.validation is None and model.config.data.split.test is None
    model.fit(train=make_table(100))  # only train: the ratios as written (0.15 each)
    assert set(model.metrics) == {"validation", "test", "baselines"}
    assert model.config.data.split.test == 0.15


def test_given_files_show_null_ratios_in_the_resolved_config(tmp_path):
    import yaml

    make_table(80).to_csv(tmp_path / "train.csv", index=False)
    make_table(20, seed=2).to_csv(tmp_path / "valid.csv", index=False)
    config = tiny_config(train=str(tmp_path / "train.csv"), epochs=1)
    config["data"]["validation"] = str(tmp_path / "valid.csv")
    Model.from_config(config).fit(output_dir=tmp_path / "run")
    resolved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert resolved["data"]["split"]["validation"] is None
    assert resolved["data"]["split"]["test"] == 0.2  # written in the config: still carved
    assert set(Model.load(tmp_path / "run").metrics) == {"validation", "test", "baselines"}


def test_duplicate_columns_in_a_dataframe_are_named(trained):
    frame = make_table(5, seed=2)
    frame = pd.concat([frame, frame[["x1"]]], axis=1)
    with pytest.raises(UserError, match=r"duplicate column names: 'x1' \(2 times\)"):
        trained.predict(frame)


def test_predict_include_inputs_renames_a_copied_column_named_like_a_prediction(capsys):
    """Prediction columns keep their names; an input column that has one gets `_input`."""
    config = {
        "data": {"split": {"validation": 0.0, "test": 0.0}},
        "inputs": [
            {"name": "x1", "type": "number"},
            {"name": "label_prediction", "type": "number"},
        ],
        "outputs": [{"name": "label", "type": "category"}],
        "trainer": {"epochs": 1, "batch_size": 32},
        "baselines": False,
    }
    table = make_table(64).assign(label_prediction=lambda t: t["x2"])
    model = Model.from_config(config).fit(train=table)
    capsys.readouterr()
    found = model.predict(table, include_inputs=True)
    assert list(found.columns[:4]) == ["x1", "label", "label_prediction_input", "label_prediction"]
    assert found["label_prediction_input"].tolist() == table["x2"].tolist()
    assert set(found["label_prediction"]) <= {"yes", "no"}
    assert "input column 'label_prediction' is 'label_prediction_input'" in capsys.readouterr().err
    assert list(model.predict(table).columns[:1]) == ["label_prediction"]  # as before


def test_binary_model_predicting_no_positives_scores_zero_not_nan():
    config = {
        "data": {"split": {"validation": 0.0, "test": 0.0}},
        "inputs": [{"name": "x1", "type": "number"}],
        "outputs": [{"name": "label", "type": "binary", "threshold": 0.999999}],
        "trainer": {"epochs": 1, "batch_size": 32, "optimizer": {"type": "adam", "lr": 1e-6}},
        "baselines": False,
    }
    model = Model.from_config(config).fit(train=make_table(64), validation=make_table(40, seed=2))
    assert set(model.predict(make_table(40, seed=2))["label_prediction"]) == {"no"}
    found = model.metrics["validation"]
    assert found["precision"] == found["recall"] == found["f1"] == 0.0
    assert 0.0 < found["average_precision"] <= 1.0
    assert found["positive_class"] == "yes"
    evaluated = model.evaluate(make_table(40, seed=2))
    assert evaluated["precision"] == 0.0 and evaluated["positive_class"] == "yes"
