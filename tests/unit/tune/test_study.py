"""The pieces of a study: pruning from the epoch events, counting trials, the best config."""

from __future__ import annotations

import optuna
import pytest
import yaml

from modelyard.config import load_config
from modelyard.tune import outputs
from modelyard.tune.space import load_study
from modelyard.tune.study import MetricMissing, _reporter, counted
from tests.conftest import make_table, tiny_config

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _row(epoch: int, loss: float) -> dict:
    return {"epoch": epoch, "train_loss": 0.5, "validation_loss": loss, "lr": 0.01}


def test_reporter_reports_each_epoch_and_raises_trial_pruned():
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=1.0))
    trial = study.ask()
    report = _reporter(trial, "loss")
    history = [_row(1, 0.8)]
    report(history)  # below the threshold: goes on
    history.append(_row(2, 1.5))
    with pytest.raises(optuna.TrialPruned, match="after epoch 2"):
        report(history)
    assert study.tell(trial, state=optuna.trial.TrialState.PRUNED).intermediate_values == {
        1: 0.8,
        2: 1.5,
    }


def test_reporter_with_median_pruner_prunes_a_trial_worse_than_the_others():
    study = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.MedianPruner(n_startup_trials=2)
    )
    for good in (0.9, 0.8):
        trial = study.ask()
        trial.report(good, 1)
        study.tell(trial, good)
    report = _reporter(study.ask(), "accuracy")
    with pytest.raises(optuna.TrialPruned):
        report([{"epoch": 1, "validation_accuracy": 0.3}])


def test_reporter_stops_the_study_when_the_metric_is_missing():
    trial = optuna.create_study().ask()
    with pytest.raises(MetricMissing, match="'roc_auc' was not computed.*it gives: loss"):
        _reporter(trial, "roc_auc")([_row(1, 0.5)])


def test_interrupted_trials_queued_again_do_not_count():
    study = optuna.create_study()
    for value in (1.0, 2.0):
        study.tell(study.ask(), value)
    stale = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    study.tell(stale, state=optuna.trial.TrialState.FAIL)
    study.enqueue_trial(stale.params, user_attrs={"retry_of": stale.number})
    assert counted(study.trials) == 3  # two complete, the retry; not the interrupted one
    retry = study.ask()  # the queued one first, with the same values
    assert retry.user_attrs["retry_of"] == stale.number
    assert retry.suggest_float("x", 0, 1) == stale.params["x"]
    study.tell(retry, 3.0)
    study.tell(study.ask(), state=optuna.trial.TrialState.FAIL)  # a real failure counts
    assert counted(study.get_trials()) == 4


def test_best_config_is_complete_and_finds_its_data(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    make_table().to_csv(project / "data.csv", index=False)
    space = {"trainer.optimizer.lr": {"loguniform": [1e-4, 1e-1]}}
    config = {**tiny_config(), "tune": {"space": space, "metric": "accuracy"}}
    (project / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    definition = load_study(project / "config.yaml")
    study = optuna.create_study(direction="maximize")
    for lr, accuracy in ((0.01, 0.7), (0.003, 0.9)):
        trial = study.ask()
        trial.set_user_attr("values", {"trainer.optimizer.lr": lr, "combiner.hidden": [4]})
        study.tell(trial, accuracy)
    out = tmp_path / "runs/study"
    out.mkdir(parents=True)
    outputs.write_best(definition, outputs.best_trial(study), out, out / "best.yaml")
    text = (out / "best.yaml").read_text()
    assert "trial 1, validation accuracy 0.9" in text
    best, base = load_config(out / "best.yaml")
    assert best.trainer.optimizer.lr == 0.003 and list(best.combiner.hidden) == [4]
    assert (base / best.data.train).resolve() == (project / "data.csv").resolve()
    assert best.name == "tiny" and best.trainer.epochs == 3  # the rest as written
    assert "tune" not in yaml.safe_load(text)


@pytest.mark.parametrize(
    ("pruner", "kind"),
    [("median", "MedianPruner"), ("hyperband", "HyperbandPruner"), ("none", "NopPruner")],
)
def test_pruners_and_samplers(tmp_path, pruner, kind):
    from modelyard.tune.study import _pruner, _sampler

    space = {"trainer.optimizer.lr": {"loguniform": [1e-4, 1e-1]}}
    config = {**tiny_config(epochs=7), "tune": {"space": space, "pruner": pruner}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    definition = load_study(tmp_path / "config.yaml")
    chosen = _pruner(definition)
    assert type(chosen).__name__ == kind
    if kind == "HyperbandPruner":
        assert chosen._max_resource == 7  # the config's epochs
    assert type(_sampler(definition, seed=1)).__name__ == "TPESampler"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"workers": 0}, "--workers 0: use 1 or more"),
        ({"trials": 0}, "--trials 0: use 1 or more"),
        ({"timeout": -1}, "--timeout -1: use a positive number"),
    ],
)
def test_bad_arguments(tmp_path, arguments, message):
    from modelyard.errors import UserError
    from modelyard.tune import tune

    with pytest.raises(UserError, match=message):
        tune(tmp_path / "missing.yaml", tmp_path / "out", **arguments)


def test_the_reporter_stops_a_run_from_the_epoch_end_event(tmp_path):
    """Through the training loop: each epoch's validation metric reaches the trial, and
    TrialPruned ends `fit` after the epoch that history.csv already records."""
    from modelyard.api import Model

    make_table().to_csv(tmp_path / "data.csv", index=False)
    config = tiny_config(epochs=6, early_stopping=None)
    config["inputs"] = config["inputs"][:3]
    model = Model.from_config(config)
    model.base_dir = tmp_path
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=0.0))  # prunes at once
    trial = study.ask()
    model.on_epoch_end = _reporter(trial, "loss")
    with pytest.raises(optuna.TrialPruned, match="after epoch 1"):
        model.fit(output_dir=tmp_path / "run")
    pruned = study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    assert list(pruned.intermediate_values) == [1]
    assert len((tmp_path / "run/history.csv").read_text().splitlines()) == 2  # header + epoch 1
