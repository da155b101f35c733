"""`modelyard tune`: a study of tiny trials, continued, retried after a kill, shared by
workers; bad input exits 2 before anything trains."""

from __future__ import annotations

import csv
import json

import optuna
import pytest
import yaml

from modelyard.tune.study import STUDY_NAME, _storage
from tests.conftest import make_table, tiny_config
from tests.integration.cli_helpers import modelyard

pytestmark = pytest.mark.integration
SPACE = {
    "trainer.optimizer.lr": {"loguniform": [0.001, 0.1]},
    "combiner.hidden": {"choice": [[8], [16, 8]]},
}


def _project(tmp_path, epochs: int = 2, **tune) -> str:
    config = tiny_config(epochs=epochs)
    config["inputs"] = config["inputs"][:3]  # numbers and a category: quick trials
    config["tune"] = {"space": SPACE, "metric": "accuracy", "trials": 3, **tune}
    make_table().to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "tune.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return "tune.yaml"


def _trials(tmp_path) -> list[dict]:
    return list(csv.DictReader((tmp_path / "out/trials.csv").open()))


def _interrupt_a_trial(tmp_path) -> float:
    """What a killed command leaves: a trial running in the journal, with a drawn lr."""
    study = optuna.load_study(study_name=STUDY_NAME, storage=_storage(tmp_path / "out"))
    trial = study.ask()
    return trial.suggest_float("trainer.optimizer.lr", 0.001, 0.1, log=True)


def test_study_writes_its_outputs_then_continues_and_retries_an_interrupted_trial(tmp_path):
    config = _project(tmp_path)
    result = modelyard("tune", config, "--output", "out", cwd=tmp_path)
    summary = json.loads(result.stdout)
    rows = _trials(tmp_path)
    assert [r["state"] for r in rows] == ["complete"] * 3
    assert all(float(r["seconds"]) > 0 and r["epochs"] == "2" for r in rows)
    assert summary["best_value"] == max(float(r["accuracy"]) for r in rows)
    best = tmp_path / "out/best.yaml"
    assert yaml.safe_load(best.read_text())["trainer"]["optimizer"]["lr"] == pytest.approx(
        summary["best_values"]["trainer.optimizer.lr"]
    )
    modelyard("validate", "out/best.yaml", cwd=tmp_path)  # complete, and finds its data
    report = (tmp_path / "out/report.html").read_text()
    assert "Optimisation history" in report and "data:image/png" in report
    finished = {p: p.stat().st_mtime_ns for p in (tmp_path / "out/trials").glob("*/history.csv")}
    assert len(finished) == 3 and not list((tmp_path / "out/trials").glob("*/report.html"))

    lr = _interrupt_a_trial(tmp_path)  # trial 3
    result = modelyard("tune", config, "--output", "out", "--trials", "4", cwd=tmp_path)
    assert "trial 3 was interrupted; it runs again as a new trial" in result.stderr
    rows = _trials(tmp_path)
    assert [r["state"] for r in rows] == ["complete"] * 3 + ["fail", "complete"]
    assert rows[4]["retry_of"] == "3"
    assert rows[3]["error"] == "interrupted; run again as trial 4"
    assert float(rows[4]["trainer.optimizer.lr"]) == pytest.approx(lr)
    assert {p: p.stat().st_mtime_ns for p in finished} == finished  # not trained again

    modelyard("tune", config, "--output", "out", "--trials", "4", cwd=tmp_path)
    assert len(_trials(tmp_path)) == 5  # the study had its trials: nothing more


def test_trials_write_no_checkpoints(tmp_path, monkeypatch):
    """A study retries an interrupted trial from its start, so its trials never checkpoint
    (at an epoch of a small table, writing one took a quarter of the trial's time)."""
    from modelyard.train import checkpoint

    written = []
    monkeypatch.setattr(checkpoint, "save_atomic", lambda state, path: written.append(path))
    modelyard("tune", _project(tmp_path), "--output", "out", "--trials", "2", cwd=tmp_path)
    assert [r["state"] for r in _trials(tmp_path)] == ["complete"] * 2
    assert written == []
    (tmp_path / "plain.yaml").write_text(yaml.safe_dump(tiny_config(epochs=2)), encoding="utf-8")
    modelyard("train", "plain.yaml", "--output", "plain", cwd=tmp_path)
    assert len(written) == 2  # a plain run checkpoints after each epoch


def test_two_workers_share_one_study(tmp_path):
    config = _project(tmp_path, epochs=1, trials=2, sampler="random", pruner="none")
    modelyard("tune", config, "--output", "out", "--workers", "2", cwd=tmp_path)
    rows = _trials(tmp_path)
    assert sorted(r["number"] for r in rows) == ["0", "1"]
    assert all(r["state"] == "complete" for r in rows)
    assert (tmp_path / "out/trials/1/metrics.json").is_file()


def test_a_changed_space_is_not_mixed_into_a_study(tmp_path):
    config = _project(tmp_path, epochs=1, trials=1)
    modelyard("tune", config, "--output", "out", cwd=tmp_path)
    _project(tmp_path, epochs=1, trials=1, metric="log_loss")
    result = modelyard("tune", config, "--output", "out", cwd=tmp_path, check=2)
    assert "holds a study of another search space, metric or direction" in result.stderr


def test_trials_failing_in_a_row_stop_the_study(tmp_path):
    config = _project(tmp_path, epochs=1, trials=5)
    (tmp_path / "data.csv").unlink()  # every trial fails alike
    result = modelyard("tune", config, "--output", "out", cwd=tmp_path, check=2)
    assert "3 trials in a row failed, the last with: " in result.stderr
    assert "data.csv" in result.stderr
    assert result.stderr.count("trial ") >= 3 and " fail " in result.stderr
    rows = _trials(tmp_path)  # what the stopped study did is written all the same
    assert [r["state"] for r in rows] == ["fail"] * 3
    assert all("data.csv" in r["error"] for r in rows)
    assert (tmp_path / "out/report.html").exists() and not (tmp_path / "out/best.yaml").exists()


@pytest.mark.parametrize(
    ("tune", "args", "message"),
    [
        (
            {"space": {"trainer.optimzer.lr": {"uniform": [0.1, 0.2]}}},
            [],
            "tune.space.trainer.optimzer.lr: unknown config key: 'optimzer' is not a key of "
            "trainer; did you mean 'optimizer'?",
        ),
        (
            {"space": {"trainer.optimizer.lr": {"loguniform": [0, 0.1]}}},
            [],
            "a log scale needs low > 0",
        ),
        ({"space": {"combiner.dropout": {"uniform": [0.4, 0.2]}}}, [], "is not below high"),
        ({"metric": "rmse"}, [], "tune.metric: 'rmse' is not a validation metric"),
        ({}, ["--workers", "0"], "--workers 0: use 1 or more"),
    ],
)
def test_bad_input_exits_2(tmp_path, tune, args, message):
    config = _project(tmp_path, **tune)
    result = modelyard("tune", config, "--output", "out", *args, cwd=tmp_path, check=2)
    assert result.stderr.startswith("error:") and message in result.stderr
    assert not (tmp_path / "out/trials").exists()


def test_help_shows_examples(tmp_path):
    result = modelyard("tune", "--help", cwd=tmp_path)
    assert "--workers" in result.stdout and "modelyard train runs/" in result.stdout
