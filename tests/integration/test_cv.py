"""`modelyard cv`: folds as scikit-learn makes them, each an ordinary run on its own rows,
the summary agreeing with `cross_val_score` on the same folds, resume, bad input."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import StratifiedKFold, cross_val_score

from tests.conftest import make_table
from tests.integration.cli_helpers import modelyard, no_run_figures, user_error

pytestmark = pytest.mark.integration

FOLDS, SEED, ROWS = 3, 4, 90


def _config(**changes) -> dict:
    config = {
        "name": "tiny",
        "data": {"train": "data.csv", "split": {"validation": 0.2, "test": 0.2, "seed": SEED}},
        "inputs": [{"name": "x1", "type": "number"}, {"name": "colour", "type": "category"}],
        "outputs": [{"name": "label", "type": "category"}],
        "combiner": {"type": "mlp", "hidden": [8]},
        "trainer": {"epochs": 2, "batch_size": 16, "optimizer": {"type": "adam", "lr": 0.02}},
        "baselines": False,
        "tracking": {"tensorboard": False},
    }
    config.update(changes)
    return config


def _project(folder, rows: int = ROWS, **changes):
    folder.mkdir(parents=True, exist_ok=True)
    make_table(rows=rows).to_csv(folder / "data.csv", index=False)
    (folder / "config.yaml").write_text(yaml.safe_dump(_config(**changes)), encoding="utf-8")
    return folder


@pytest.fixture(scope="module", autouse=True)
def _quick_fold_figures():
    """The fold runs' reports without figures (cli_helpers.no_run_figures); cv's summary
    figure is drawn for real."""
    with pytest.MonkeyPatch.context() as patch:
        no_run_figures(patch)
        yield


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """A finished 3-fold stratified cross-validation: (project folder, its stdout)."""
    project = _project(tmp_path_factory.mktemp("cv"))
    args = ("cv", "config.yaml", "--folds", str(FOLDS), "--stratify", "--output", "cv")
    return project, modelyard(*args, cwd=project).stdout


class _TrainedFolds(ClassifierMixin, BaseEstimator):
    """What scikit-learn cross-validates: `fit` on a fold's training rows picks the model our
    cv trained on exactly those rows (found by the rows its run held out), `predict` and
    `predict_proba` are that model's."""

    def __init__(self, folder=None):
        self.folder = folder

    def fit(self, x, y):
        from modelyard import Model

        held_out = sorted(set(range(ROWS)) - set(x.index))
        for run in sorted(self.folder.glob("fold_*")):
            splits = json.loads((run / "splits.json").read_text())
            if splits["test"]["rows"] == held_out:
                self.model_, self.classes_ = Model.load(run), np.array(["no", "yes"])
                return self
        raise AssertionError("no fold run held out these rows")

    def predict(self, x):
        return self.model_.predict(x)["label_prediction"].to_numpy()

    def predict_proba(self, x):
        found = self.model_.predict(x)
        return found[["label_probability_no", "label_probability_yes"]].to_numpy()


def test_folds_are_stratified_kfold_and_the_summary_agrees_with_cross_val_score(done):
    project, stdout = done
    data = pd.read_csv(project / "data.csv")
    folds = pd.read_csv(project / "cv/folds.csv")
    splitter = StratifiedKFold(FOLDS, shuffle=True, random_state=SEED)
    pairs = list(splitter.split(data, data["label"]))
    for k, (_, held_out) in enumerate(pairs, start=1):  # reproducible from folds.csv alone
        assert sorted(folds.loc[folds["fold"] == k, "row"]) == sorted(held_out)
    summary = json.loads((project / "cv/cv.json").read_text())
    estimator = _TrainedFolds(project / "cv")
    for ours, scoring in [
        ("accuracy", "accuracy"),
        ("f1_macro", "f1_macro"),
        ("roc_auc", "roc_auc"),
        ("log_loss", "neg_log_loss"),
    ]:
        scores = cross_val_score(estimator, data, data["label"], cv=pairs, scoring=scoring)
        scores = -scores if scoring.startswith("neg_") else scores
        per_fold = [f[ours] for f in summary["folds"]]
        np.testing.assert_allclose(per_fold, scores, atol=1e-5, err_msg=ours)
        assert summary["mean"][ours] == pytest.approx(scores.mean(), abs=1e-5)
        assert summary["std"][ours] == pytest.approx(scores.std(), abs=1e-5)
    assert f"3-fold cross-validation ({ROWS} rows)" in stdout and "accuracy" in stdout
    assert f"{summary['mean']['accuracy']:.4f}" in stdout


def test_each_fold_fits_preprocessing_on_its_own_training_rows_and_never_validates_on_held_out(
    done,
):
    project, _ = done
    data = pd.read_csv(project / "data.csv")
    folds = pd.read_csv(project / "cv/folds.csv")
    cv_csv = pd.read_csv(project / "cv/cv.csv")
    assert cv_csv["fold"].tolist() == [1, 2, 3] and (cv_csv["held_out_rows"] == 30).all()
    for k in range(1, FOLDS + 1):
        run = project / f"cv/fold_{k}"
        splits = json.loads((run / "splits.json").read_text())
        held_out = set(folds.loc[folds["fold"] == k, "row"])
        train, validation = set(splits["train"]["rows"]), set(splits["validation"]["rows"])
        assert set(splits["test"]["rows"]) == held_out
        assert not validation & held_out and not train & held_out and not train & validation
        assert train | validation | held_out == set(range(len(data)))
        scaler = json.loads((run / "model/preprocessing.json").read_text())["x1"]
        assert scaler["shift"] == pytest.approx(data["x1"].iloc[sorted(train)].mean())
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["test"]["rows"] == len(held_out)
    html = (project / "cv/report.html").read_text()
    png = re.search(r'src="data:image/png;base64,([^"]+)"', html).group(1)
    assert base64.b64decode(png).startswith(b"\x89PNG")  # each fold's scores
    assert 'href="fold_2/report.html"' in html and "https://" not in html


def test_a_killed_cv_run_again_skips_the_finished_folds(tmp_path, monkeypatch):
    project = _project(tmp_path, rows=40)
    args = ("cv", "config.yaml", "--folds", "2", "--output", "cv")
    _kill_after_first_epoch_of(monkeypatch, "fold_2")
    killed = modelyard(*args, cwd=project, check=None)  # Ctrl-C in fold 2
    assert killed.returncode == 130 and "run the same cv command again" in killed.stderr
    assert (project / "cv/fold_2/checkpoints/last.pt").is_file()
    weights = project / "cv/fold_1/model/weights.safetensors"
    before = weights.stat().st_mtime_ns
    monkeypatch.undo()
    result = modelyard(*args, cwd=project)
    assert "fold 1 finished before" in result.stderr
    assert "fold 2 continues from its checkpoint" in result.stderr
    assert weights.stat().st_mtime_ns == before
    history = pd.read_csv(project / "cv/fold_2/history.csv")
    assert history["epoch"].tolist() == [1, 2]
    assert (project / "cv/cv.json").is_file()
    changed = user_error(modelyard(*args, "--set", "trainer.epochs=1", cwd=project, check=None))
    assert "trained with another config (it differs at trainer.epochs)" in changed
    other = ("cv", "config.yaml", "--folds", "3", "--output", "cv")
    assert "holds a cross-validation of other data or other folds" in user_error(
        modelyard(*other, cwd=project, check=None)
    )
    data = pd.read_csv(project / "data.csv")
    data.loc[5, "x1"] += 1.0  # the same rows and folds, another value
    data.to_csv(project / "data.csv", index=False)
    assert "of other data" in user_error(modelyard(*args, cwd=project, check=None))


def _kill_after_first_epoch_of(monkeypatch, fold: str) -> None:
    """A KeyboardInterrupt as `fold`'s second epoch ends, before its checkpoint: the first
    epoch's is on disk, as after a kill."""
    from modelyard import fitting

    live = fitting._after_epoch

    def interrupting(run_dir, listener):
        record = live(run_dir, listener)

        def after_epoch(history):
            if record is not None:
                record(history)
            if run_dir is not None and run_dir.name == fold and len(history) == 2:
                raise KeyboardInterrupt

        return after_epoch

    monkeypatch.setattr(fitting, "_after_epoch", interrupting)


def test_repeats_give_a_run_per_repeat_and_fold(tmp_path):
    project = _project(tmp_path, rows=24, trainer={"epochs": 1, "batch_size": 16})
    result = modelyard("cv", "config.yaml", "--folds", "2", "--repeats", "2", cwd=project)
    for r in (1, 2):
        for k in (1, 2):
            assert (project / f"runs/tiny-cv/repeat_{r}/fold_{k}/metrics.json").is_file()
    summary = json.loads((project / "runs/tiny-cv/cv.json").read_text())
    assert [(f["repeat"], f["fold"]) for f in summary["folds"]] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert "2 repeats" in result.stdout


@pytest.mark.parametrize(
    ("args", "changes", "message"),
    [
        (("--folds", "5"), {}, "4 rows to cross-validate but --folds 5"),
        (("--folds", "2", "--group", "patient"), {}, "--group: column 'patient' is not in the"),
        (
            ("--folds", "2", "--stratify"),
            {"outputs": [{"name": "amount", "type": "number"}]},
            "--stratify keeps the class shares of a single category or binary output",
        ),
    ],
)
def test_bad_cv_input_is_the_users_error(tmp_path, args, changes, message):
    project = _project(tmp_path, rows=4, **changes)
    assert message in user_error(modelyard("cv", "config.yaml", *args, cwd=project, check=None))


def test_help_says_how_to_resume_and_gives_examples(tmp_path):
    cv = modelyard("cv", "--help", cwd=tmp_path).stdout
    assert "skipped" in cv and "modelyard cv examples/penguins/config.yaml --folds 5" in cv
    compare = modelyard("compare", "--help", cwd=tmp_path).stdout
    assert "modelyard compare runs/a runs/b runs/c --html compare.html" in compare
    assert "cv" in modelyard("--help", cwd=tmp_path).stdout
