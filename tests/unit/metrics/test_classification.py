"""Parity of modelyard.metrics classification metrics with scikit-learn called directly."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn import metrics as sk

from modelyard.metrics import classification_details, classification_metrics, metric_mode


def _random_case(seed: int, n_classes: int, n: int = 200, missing: int | None = None):
    rng = np.random.default_rng(seed)
    probabilities = rng.dirichlet(np.ones(n_classes), size=n)
    y_true = rng.integers(0, n_classes, size=n)
    if missing is not None:
        y_true[y_true == missing] = (missing + 1) % n_classes
    # Make predictions informative so metrics are not all near chance.
    probabilities[np.arange(n), y_true] += rng.uniform(0, 1, size=n)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return y_true, probabilities, [f"class_{i}" for i in range(n_classes)]


def _expected(y_true, probabilities):
    n_classes = probabilities.shape[1]
    predicted = probabilities.argmax(axis=1)
    expected = {
        "accuracy": sk.accuracy_score(y_true, predicted),
        "precision_macro": sk.precision_score(y_true, predicted, average="macro", zero_division=0),
        "recall_macro": sk.recall_score(y_true, predicted, average="macro", zero_division=0),
        "f1_macro": sk.f1_score(y_true, predicted, average="macro", zero_division=0),
        "log_loss": sk.log_loss(y_true, probabilities, labels=list(range(n_classes))),
    }
    if n_classes == 2:
        expected["roc_auc"] = sk.roc_auc_score(y_true, probabilities[:, 1])
    else:
        present = np.unique(y_true)
        expected["roc_auc"] = np.mean(
            [sk.roc_auc_score(y_true == c, probabilities[:, c]) for c in present]
        )
    return expected


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("n_classes", [2, 3, 7])
def test_matches_sklearn(seed, n_classes):
    y_true, probabilities, classes = _random_case(seed, n_classes)
    result = classification_metrics(y_true, probabilities, classes)
    expected = _expected(y_true, probabilities)
    assert set(result) == set(expected)
    for name, value in expected.items():
        assert result[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
        assert type(result[name]) is float


@pytest.mark.parametrize("seed", [0, 1])
def test_multiclass_auc_matches_sklearn_ovr_when_all_classes_present(seed):
    y_true, probabilities, classes = _random_case(seed, 5)
    result = classification_metrics(y_true, probabilities, classes)
    expected = sk.roc_auc_score(y_true, probabilities, multi_class="ovr", average="macro")
    assert result["roc_auc"] == pytest.approx(expected)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_class_missing_from_y_true(seed):
    y_true, probabilities, classes = _random_case(seed, 4, missing=2)
    assert 2 not in y_true
    result = classification_metrics(y_true, probabilities, classes)
    for name, value in _expected(y_true, probabilities).items():
        assert result[name] == pytest.approx(value, rel=1e-9), name
    assert "class_2" not in classification_details(y_true, probabilities, classes)["roc"]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("n_classes", [2, 3, 6])
def test_tied_scores_and_a_threshold_match_sklearn(seed, n_classes):
    y_true, probabilities, classes = _random_case(seed, n_classes, n=300)
    rng = np.random.default_rng(seed)
    probabilities = probabilities[rng.integers(0, 6, size=len(y_true))]  # 6 distinct rows: ties
    predicted = rng.integers(0, n_classes, size=len(y_true))  # any rule, not just argmax
    result = classification_metrics(y_true, probabilities, classes, predicted)
    expected = {
        "accuracy": sk.accuracy_score(y_true, predicted),
        "precision_macro": sk.precision_score(y_true, predicted, average="macro", zero_division=0),
        "recall_macro": sk.recall_score(y_true, predicted, average="macro", zero_division=0),
        "f1_macro": sk.f1_score(y_true, predicted, average="macro", zero_division=0),
        "roc_auc": _expected(y_true, probabilities)["roc_auc"],
    }
    for name, value in expected.items():
        assert result[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n_classes", [2, 4])
def test_unseen_classes_are_errors_and_probabilistic_metrics_use_seen_rows(seed, n_classes):
    """Labels from C on (classes never seen in training) count as wrong, as scikit-learn counts
    labels no prediction has; log loss and ROC AUC are those of the seen-class rows."""
    y_true, probabilities, classes = _random_case(seed, n_classes)
    rng = np.random.default_rng(seed + 10)
    unseen = rng.random(len(y_true)) < 0.2
    y_true = np.where(unseen, n_classes + rng.integers(0, 2, size=len(y_true)), y_true)
    result = classification_metrics(y_true, probabilities, classes)
    predicted = probabilities.argmax(axis=1)
    expected = {
        "accuracy": sk.accuracy_score(y_true, predicted),
        "precision_macro": sk.precision_score(y_true, predicted, average="macro", zero_division=0),
        "recall_macro": sk.recall_score(y_true, predicted, average="macro", zero_division=0),
        "f1_macro": sk.f1_score(y_true, predicted, average="macro", zero_division=0),
        **{
            k: v
            for k, v in _expected(y_true[~unseen], probabilities[~unseen]).items()
            if k in ("log_loss", "roc_auc")
        },
    }
    assert set(result) == set(expected)
    for name, value in expected.items():
        assert result[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
    assert (
        result["accuracy"]
        < classification_metrics(y_true[~unseen], probabilities[~unseen], classes)["accuracy"]
    )


def test_roc_auc_omitted_when_one_class_present():
    probabilities = np.array([[0.8, 0.2], [0.4, 0.6], [0.9, 0.1]])
    result = classification_metrics(np.array([0, 0, 0]), probabilities, ["no", "yes"])
    assert "roc_auc" not in result
    assert result["accuracy"] == pytest.approx(2 / 3)
    details = classification_details(np.array([0, 0, 0]), probabilities, ["no", "yes"])
    assert details["roc"] == {}


def test_log_loss_finite_with_zero_probabilities():
    probabilities = np.array([[1.0, 0.0], [1.0, 0.0]])
    result = classification_metrics(np.array([0, 1]), probabilities, ["a", "b"])
    assert np.isfinite(result["log_loss"]) and result["log_loss"] > 10


def test_float32_probabilities_accepted():
    y_true, probabilities, classes = _random_case(5, 3)
    result = classification_metrics(y_true, probabilities.astype(np.float32), classes)
    assert result["log_loss"] == pytest.approx(
        _expected(y_true, probabilities)["log_loss"], rel=1e-5
    )


def test_confusion_matrix_hand_count():
    classes = ["cat", "dog", "eel"]
    y_true = np.array([0, 0, 1, 1, 1, 2, 0])
    predicted = np.array([0, 1, 1, 1, 2, 0, 0])
    probabilities = np.eye(3)[predicted] * 0.7 + 0.1
    details = classification_details(y_true, probabilities, classes)
    assert details["classes"] == classes
    assert details["confusion_matrix"] == [[2, 1, 0], [0, 2, 1], [1, 0, 0]]


def test_binary_roc_is_positive_class_only():
    y_true, probabilities, classes = _random_case(0, 2)
    roc = classification_details(y_true, probabilities, classes)["roc"]
    assert list(roc) == ["class_1"]
    assert roc["class_1"]["auc"] == pytest.approx(sk.roc_auc_score(y_true, probabilities[:, 1]))


def test_roc_curves_downsampled_and_monotone():
    y_true, probabilities, classes = _random_case(0, 3, n=5000)
    roc = classification_details(y_true, probabilities, classes)["roc"]
    assert list(roc) == classes
    for curve in roc.values():
        assert 2 <= len(curve["fpr"]) == len(curve["tpr"]) <= 200
        assert curve["fpr"][0] == 0.0 and curve["fpr"][-1] == 1.0 and curve["tpr"][-1] == 1.0
        assert np.all(np.diff(curve["fpr"]) >= 0) and np.all(np.diff(curve["tpr"]) >= 0)


def test_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="shape"):
        classification_metrics(np.array([0, 1]), np.ones((2, 3)) / 3, ["a", "b"])


@pytest.mark.parametrize(
    ("name", "mode"),
    [
        ("loss", "min"), ("log_loss", "min"), ("mse", "min"), ("rmse", "min"), ("mae", "min"),
        ("perplexity", "min"), ("wer", "min"), ("label.mse", "min"), ("a.b.log_loss", "min"),
        ("accuracy", "max"), ("f1_macro", "max"), ("r2", "max"), ("roc_auc", "max"),
        ("species.accuracy", "max"),
    ],
)  # fmt: skip
def test_metric_mode(name, mode):
    assert metric_mode(name) == mode


def test_import_is_cheap():
    code = "import sys, modelyard.metrics; print(any(m.split('.')[0] in ('sklearn', 'torch') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("seed", range(5))
def test_roc_curve_equals_sklearns(seed):
    from modelyard.metrics.classification import roc_curve

    rng = np.random.default_rng(seed)
    positive = rng.random(300) < 0.3
    scores = rng.integers(0, 40, size=300) / 40  # many ties
    fpr, tpr = roc_curve(positive, scores)
    expected_fpr, expected_tpr, _ = sk.roc_curve(positive, scores)
    np.testing.assert_array_equal(fpr, expected_fpr)
    np.testing.assert_array_equal(tpr, expected_tpr)


def test_report_details_do_not_import_scikit_learn():
    """Importing scikit-learn costs seconds at the end of every classifier run."""
    code = (
        "import sys, numpy as np\n"
        "from modelyard.metrics.classification import classification_details, classification_metrics\n"
        "y = np.array([0, 1, 2, 1, 0]); p = np.random.default_rng(0).dirichlet([1, 1, 1], 5)\n"
        "classification_metrics(y, p, ['a', 'b', 'c']); classification_details(y, p, ['a', 'b', 'c'])\n"
        "assert 'sklearn' not in sys.modules, 'scikit-learn was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("seed", range(4))
def test_positive_class_metrics_match_sklearn(seed):
    """A binary output's precision, recall, f1 (at its threshold) and average precision."""
    y_true, probabilities, classes = _random_case(seed, 2, n=300)
    rng = np.random.default_rng(seed)
    probabilities = probabilities[rng.integers(0, 300, size=300)]  # repeated rows: tied scores
    predicted = (probabilities[:, 1] >= 0.3).astype(np.int64)
    result = classification_metrics(y_true, probabilities, classes, predicted, positive=1)
    expected = {
        "precision": sk.precision_score(y_true, predicted, zero_division=0),
        "recall": sk.recall_score(y_true, predicted, zero_division=0),
        "f1": sk.f1_score(y_true, predicted, zero_division=0),
        "average_precision": sk.average_precision_score(y_true, probabilities[:, 1]),
    }
    for name, value in expected.items():
        assert result[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
        assert type(result[name]) is float
    assert "precision" not in classification_metrics(y_true, probabilities, classes, predicted)


def test_no_positive_predicted_gives_zero_precision_not_nan():
    y_true = np.array([0, 1, 1, 0, 1])
    probabilities = np.tile([0.9, 0.1], (5, 1))
    predicted = np.zeros(5, dtype=np.int64)
    result = classification_metrics(y_true, probabilities, ["no", "yes"], predicted, positive=1)
    assert result["precision"] == 0.0 and result["recall"] == 0.0 and result["f1"] == 0.0
    assert all(np.isfinite(v) for v in result.values())
    # no positive label at all: recall 0 and no average precision (undefined)
    result = classification_metrics(np.zeros(5), probabilities, ["no", "yes"], predicted, 1)
    assert result["recall"] == 0.0 and "average_precision" not in result
    assert "pr" not in classification_details(np.zeros(5), probabilities, ["no", "yes"], None, 1)


def test_unseen_binary_labels_count_as_negatives_predicted_positive():
    """A label that is neither value (index 2) is a false positive when predicted positive;
    average precision uses the seen rows only."""
    y_true = np.array([1, 0, 2, 1])
    probabilities = np.array([[0.2, 0.8], [0.6, 0.4], [0.1, 0.9], [0.7, 0.3]])
    predicted = np.array([1, 0, 1, 0])
    result = classification_metrics(y_true, probabilities, ["no", "yes"], predicted, positive=1)
    assert result["precision"] == 0.5 and result["recall"] == 0.5
    assert result["average_precision"] == pytest.approx(
        sk.average_precision_score([1, 0, 1], [0.8, 0.4, 0.3])
    )


@pytest.mark.parametrize("seed", range(3))
def test_precision_recall_curve_is_sklearns_reversed(seed):
    from modelyard.metrics.classification import precision_recall_curve

    rng = np.random.default_rng(seed)
    positive = rng.random(300) < 0.3
    scores = rng.integers(0, 40, size=300) / 40  # many ties
    recall, precision = precision_recall_curve(positive, scores)
    expected_precision, expected_recall, _ = sk.precision_recall_curve(positive, scores)
    np.testing.assert_allclose(recall, expected_recall[::-1], rtol=0, atol=1e-15)
    np.testing.assert_allclose(precision, expected_precision[::-1], rtol=0, atol=1e-15)


def test_binary_details_have_the_precision_recall_curve():
    y_true, probabilities, classes = _random_case(0, 2, n=5000)
    pr = classification_details(y_true, probabilities, classes, positive=1)["pr"]
    assert pr["class"] == "class_1" and len(pr["recall"]) == len(pr["precision"]) <= 200
    assert pr["recall"][0] == 0.0 and pr["recall"][-1] == 1.0
    assert np.all(np.diff(pr["recall"]) >= 0)
    assert pr["prevalence"] == pytest.approx(np.mean(y_true == 1))
    assert pr["average_precision"] == pytest.approx(
        sk.average_precision_score(y_true, probabilities[:, 1])
    )
    assert "pr" not in classification_details(y_true, probabilities, classes)
