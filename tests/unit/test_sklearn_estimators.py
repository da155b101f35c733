"""ModelyardClassifier and ModelyardRegressor beyond scikit-learn's checks: DataFrames, label
types, the config they build, quietness, pickling, and scikit-learn's tools around them."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelyard.errors import UserError
from modelyard.sklearn import ModelyardClassifier, ModelyardRegressor
from tests.conftest import make_table

FAST = {"hidden": [8], "epochs": 15, "lr": 0.03, "early_stopping": False, "random_state": 0}


def blobs(rows: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(rows, 3) numbers and a 0/1 label that the first column decides."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 3))
    return X, (X[:, 0] > 0).astype(int)


def test_a_dataframe_keeps_its_column_names_and_dtypes():
    table = make_table(160)
    X, y = table[["x1", "colour", "review"]].assign(big=table.x1 > 1), table.label
    clf = ModelyardClassifier(**FAST).fit(X, y)
    assert list(clf.feature_names_in_) == ["x1", "colour", "review", "big"]
    assert clf.n_features_in_ == 4
    inputs = {i.name: i.type for i in clf.model_.config.inputs}
    assert inputs == {"x1": "number", "colour": "category", "review": "category", "big": "binary"}
    assert clf.score(X, y) > 0.9  # x1 and the colour decide the label
    assert set(clf.predict(X)) <= {"yes", "no"}


@pytest.mark.parametrize(
    "labels",
    [np.array([3, 7, 11]), np.array(["b", "a", "c"]), np.array([2.0, 10.0, 5.0])],
)
def test_classes_are_the_labels_as_given(labels):
    X, _ = blobs()
    which = np.digitize(X[:, 0], [-0.4, 0.4])  # three bands of the first column
    clf = ModelyardClassifier(**FAST).fit(X, labels[which])
    assert clf.classes_.dtype == labels.dtype
    assert list(clf.classes_) == sorted(labels)
    assert clf.predict(X).dtype == labels.dtype
    assert clf.score(X, labels[which]) > 0.8


def test_probability_columns_follow_classes_not_the_text_order_of_labels():
    # modelyard orders its classes as text ('10' before '2'); classes_ are numbers
    X, y = blobs(200)
    labels = np.where(y == 1, 10, 2)
    clf = ModelyardClassifier(**FAST).fit(X, labels)
    assert list(clf.classes_) == [2, 10]
    probabilities = clf.predict_proba(X)
    assert probabilities[labels == 10, 1].mean() > 0.8
    assert (clf.predict(X) == labels).mean() > 0.9


def test_boolean_labels():
    X, y = blobs()
    clf = ModelyardClassifier(**FAST).fit(X, y.astype(bool))
    assert clf.classes_.tolist() == [False, True] and clf.predict(X).dtype == bool


def test_regressor_predicts_in_the_units_of_y():
    X, _ = blobs(200)
    y = 1000 + 100 * X[:, 0] - 50 * X[:, 1]
    reg = ModelyardRegressor(**{**FAST, "epochs": 40}).fit(X, pd.Series(y, name="y"))
    predicted = reg.predict(X)
    assert predicted.dtype == np.float64
    assert abs(predicted.mean() - 1000) < 30 and reg.score(X, y) > 0.9


def test_random_state_reproduces_a_fit_and_none_varies():
    X, y = blobs()
    first, again = (ModelyardClassifier(**FAST).fit(X, y).predict_proba(X) for _ in range(2))
    np.testing.assert_array_equal(first, again)
    other = ModelyardClassifier(**{**FAST, "random_state": 1}).fit(X, y).predict_proba(X)
    assert not np.allclose(first, other)
    free = [ModelyardClassifier(**{**FAST, "random_state": None}) for _ in range(2)]
    assert not np.allclose(*(c.fit(X, y).predict_proba(X) for c in free))


def test_quiet_unless_verbose(capsys):
    X, y = blobs()
    ModelyardClassifier(**FAST).fit(X, y).predict(X)
    assert capsys.readouterr().err == ""
    ModelyardClassifier(**{**FAST, "epochs": 2, "verbose": True}).fit(X, y)
    assert "epoch 2/2" in capsys.readouterr().err


def test_nothing_written_without_output_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    X, y = blobs()
    ModelyardClassifier(**FAST).fit(X, y)
    assert list(tmp_path.iterdir()) == []
    clf = ModelyardClassifier(**FAST, output_dir=str(tmp_path / "run")).fit(X, y)
    assert (tmp_path / "run" / "model" / "weights.safetensors").is_file()
    assert clf.score(X, y) > 0.9


def test_pickle_holds_the_saved_model_files_and_predicts_the_same():
    X, y = blobs()
    clf = ModelyardClassifier(**FAST).fit(pd.DataFrame(X, columns=["a", "b", "c"]), y)
    assert isinstance(clf.__getstate__()["model_"], bytes)
    back = pickle.loads(pickle.dumps(clf))
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    np.testing.assert_array_equal(back.predict_proba(frame), clf.predict_proba(frame))
    assert list(back.feature_names_in_) == ["a", "b", "c"]


def test_clone_pipeline_grid_search_and_cross_val_score():
    X, y = blobs(150)
    clf = ModelyardClassifier(**FAST)
    assert clone(clf).get_params() == clf.get_params()
    pipeline = make_pipeline(StandardScaler(), clf).fit(X * 100, y)
    assert pipeline.score(X * 100, y) > 0.9
    search = GridSearchCV(clf, {"hidden": [[2], [8]]}, cv=2).fit(X, y)
    assert search.best_params_["hidden"] in ([2], [8]) and search.score(X, y) > 0.9
    scores = cross_val_score(clf, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8


def test_missing_values_are_filled_and_infinity_is_rejected():
    X, y = blobs()
    X[::7, 1] = np.nan
    clf = ModelyardClassifier(**FAST).fit(X, y)
    assert clf.score(X, y) > 0.9
    X[3, 2] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        clf.predict(X)
    frame = pd.DataFrame({"a": X[:, 0], "b": ["u", "v"] * 60})
    with pytest.raises(ValueError, match="infinity in column 'a'"):
        ModelyardClassifier(**FAST).fit(frame.assign(a=np.where(y, np.inf, 0.0)), y)


def test_columns_are_matched_by_name():
    X, y = blobs()
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    clf = ModelyardClassifier(**FAST).fit(frame, y)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame.rename(columns={"a": "z"}))
    with pytest.warns(UserWarning, match="valid feature names"):
        by_position = clf.predict_proba(X)
    np.testing.assert_array_equal(by_position, clf.predict_proba(frame))


def test_config_dict_sets_the_rest_and_inputs_by_name():
    table = make_table(120)
    X, y = table[["x1", "colour", "review"]], table.label
    words = {"name": "review", "type": "text"}
    config = {"trainer": {"schedule": {"type": "cosine"}}, "inputs": [words]}
    clf = ModelyardClassifier(**FAST, config=config).fit(X, y)
    assert clf.model_.config.trainer.schedule.type == "cosine"
    assert clf.model_.config.inputs[2].type == "text"
    assert clf.model_.config.trainer.epochs == 15  # the parameter, next to the config's keys


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"trainer": {"epochs": 3}}, r"config\['trainer'\]\['epochs'\] is 3 but .* make it 15"),
        ({"trainer": {"epochz": 3}}, "epochz"),
        ({"inputs": [{"name": "nope", "type": "text"}]}, "names no column of X"),
        ({"outputs": [{"type": "number"}]}, r"config\['outputs'\]\[0\]\['type'\]"),
    ],
)
def test_config_mistakes_are_user_errors(config, message):
    X, y = blobs()
    with pytest.raises(UserError, match=message):
        ModelyardClassifier(**FAST, config=config).fit(X, y)


def test_unreadable_column_and_one_class():
    X, y = blobs()
    dates = pd.DataFrame({"when": pd.date_range("2020-01-01", periods=len(y)), "a": X[:, 0]})
    with pytest.raises(UserError, match="column 'when' has dtype datetime64"):
        ModelyardClassifier(**FAST).fit(dates, y)
    with pytest.raises(ValueError, match="only one class"):
        ModelyardClassifier(**FAST).fit(X, np.zeros(len(y)))


def test_a_failed_fit_leaves_the_estimator_unfitted():
    from sklearn.exceptions import NotFittedError

    X, y = blobs()
    clf = ModelyardClassifier(**FAST, config={"trainer": {"epochz": 3}})
    with pytest.raises(UserError):
        clf.fit(X, y)
    with pytest.raises(NotFittedError):
        clf.predict(X)
