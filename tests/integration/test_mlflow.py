"""MLflow tracking (`tracking.mlflow`): a run's params, metric histories, final metrics and
artifacts in a local store read back with MLflow's client; FAILED and KILLED runs; a resume
continues the same MLflow run; a missing MLflow or a store that does not answer stops the run
before training."""

from __future__ import annotations

import json
import shutil
import socket
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml

from modelyard import Model, run
from modelyard.train.mlflow_tracking import RUN_FILE
from tests.conftest import make_table
from tests.integration.cli_helpers import modelyard, user_error

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory) -> Path:
    """An MLflow sqlite database with its tables made (MLflow's migrations take seconds):
    each test copies it."""
    path = tmp_path_factory.mktemp("mlflow") / "mlruns.db"
    mlflow.MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


def _config(**tracking) -> dict:
    return {
        "name": "tiny",
        "data": {"train": "data.csv", "split": {"validation": 0.25, "test": 0.25}},
        "inputs": [{"name": "x1", "type": "number"}, {"name": "colour", "type": "category"}],
        "outputs": [{"name": "label", "type": "category"}],
        "trainer": {"epochs": 3, "batch_size": 8},
        "tracking": {"every_steps": 2, **tracking},
    }


@pytest.fixture
def project(tmp_path: Path, empty_store: Path) -> Path:
    """tmp_path/project: data.csv, config.yaml recording to sqlite:///mlruns.db (relative:
    beside the config) and that database, empty."""
    folder = tmp_path / "project"
    folder.mkdir()
    make_table(64).to_csv(folder / "data.csv", index=False)
    config = _config(mlflow="sqlite:///mlruns.db")
    (folder / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    shutil.copy(empty_store, folder / "mlruns.db")
    return folder


def _recorded(run_dir: Path):
    """(client, the MLflow run) that `run_dir/mlflow.json` names."""
    record = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    client = mlflow.MlflowClient(record["tracking_uri"])
    return client, client.get_run(record["run_id"])


def _steps(client, run_id: str, key: str) -> list[int]:
    return sorted(m.step for m in client.get_metric_history(run_id, key))


def test_a_run_records_its_config_metrics_and_model_then_finishes(project):
    # from the project's parent: the store's relative path starts at the config's folder
    modelyard("train", "project/config.yaml", "--output", "project/run", cwd=project.parent)
    client, found = _recorded(project / "run")
    assert found.info.status == "FINISHED"
    assert found.info.run_name == "run"
    assert client.get_experiment(found.info.experiment_id).name == "tiny"  # the config's name
    assert json.loads((project / "run" / RUN_FILE).read_text())["tracking_uri"] == (
        f"sqlite:///{project / 'mlruns.db'}"
    )
    params = found.data.params
    assert params["trainer.epochs"] == "3"
    assert params["inputs.1.name"] == "colour"
    assert params["tracking.mlflow"] == "sqlite:///mlruns.db"
    run_id = found.info.run_id
    # 32 training rows, batches of 8: 4 steps an epoch, every 2nd recorded
    assert _steps(client, run_id, "train_loss_step") == list(range(2, 13, 2))
    for key in ("train_loss", "validation_loss", "validation_accuracy", "lr", "rows_per_second"):
        assert _steps(client, run_id, key) == [1, 2, 3], key
    history = [m.value for m in client.get_metric_history(run_id, "validation_accuracy")]
    assert history == pytest.approx(
        list(pd.read_csv(project / "run" / "history.csv")["validation_accuracy"])
    )
    metrics = json.loads((project / "run" / "metrics.json").read_text())
    for split in ("validation", "test"):
        for name in ("accuracy", "loss", "rows"):
            assert found.data.metrics[f"final_{split}_{name}"] == pytest.approx(
                metrics[split][name]
            )
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert artifacts == {"model", "report.html"}
    model_files = {a.path for a in client.list_artifacts(run_id, "model")}
    assert "model/weights.safetensors" in model_files
    assert found.data.tags["modelyard.run_dir"] == str((project / "run").resolve())


class _FailAtEpoch:
    """run.write_history, raising `error` when the history reaches `epoch` (after the tracker
    recorded that epoch, before its checkpoint)."""

    def __init__(self, error: BaseException, epoch: int = 2):
        self.error, self.epoch, self.write = error, epoch, run.write_history

    def __call__(self, path, history):
        if len(history) == self.epoch:
            raise self.error
        self.write(path, history)


@pytest.mark.parametrize(
    ("error", "status"), [(OSError("disk full"), "FAILED"), (KeyboardInterrupt(), "KILLED")]
)
def test_a_failed_run_ends_failed_or_killed_and_its_resume_continues_it(
    project, monkeypatch, error, status
):
    model = Model.from_config(project / "config.yaml")
    with monkeypatch.context() as patch:
        patch.setattr(run, "write_history", _FailAtEpoch(error))
        with pytest.raises(type(error)):
            model.fit(output_dir=project / "run")
    client, found = _recorded(project / "run")
    assert found.info.status == status
    assert _steps(client, found.info.run_id, "train_loss") == [1, 2]

    Model.from_config(project / "config.yaml").fit(output_dir=project / "run", resume=True)
    client, resumed = _recorded(project / "run")
    assert resumed.info.run_id == found.info.run_id
    assert resumed.info.status == "FINISHED"
    # epoch 2 ran again from the checkpoint of epoch 1, and is not recorded twice
    assert _steps(client, found.info.run_id, "train_loss") == [1, 2, 3]
    assert _steps(client, found.info.run_id, "train_loss_step") == list(range(2, 13, 2))
    assert "final_test_accuracy" in resumed.data.metrics
    assert {a.path for a in client.list_artifacts(found.info.run_id)} == {"model", "report.html"}


def test_a_finished_run_continued_with_more_epochs_keeps_its_mlflow_run(project):
    keep = ("--set", "trainer.keep_checkpoints=last", "--output", "run")
    modelyard("train", "config.yaml", *keep, "--set", "trainer.epochs=2", cwd=project)
    modelyard("train", "config.yaml", *keep, "--set", "trainer.epochs=3", "--resume", cwd=project)
    client, found = _recorded(project / "run")
    assert found.info.status == "FINISHED"
    assert _steps(client, found.info.run_id, "train_loss") == [1, 2, 3]
    assert found.data.params["trainer.epochs"] == "2"  # MLflow's params never change
    assert found.data.tags["modelyard.resumed.trainer.epochs"] == "3"
    experiment = client.get_experiment_by_name("tiny")
    assert len(client.search_runs([experiment.experiment_id])) == 1


def test_a_file_store_and_a_named_experiment(project):
    config = yaml.safe_load((project / "config.yaml").read_text())
    config["tracking"].update(mlflow="file:store", mlflow_experiment="penguins")
    (project / "config.yaml").write_text(yaml.safe_dump(config))
    env = {"MLFLOW_ALLOW_FILE_STORE": "true"}  # MLflow 3 keeps its file store on request only
    modelyard("train", "config.yaml", "--output", "run", cwd=project, env=env)
    client, found = _recorded(project / "run")
    assert client.get_experiment(found.info.experiment_id).name == "penguins"
    assert found.info.status == "FINISHED"
    assert (project / "store").is_dir()
    artifacts = Path(found.info.artifact_uri.removeprefix("file://"))
    assert (artifacts / "model" / "weights.safetensors").is_file()
    assert artifacts.is_relative_to(project / "store")


def test_without_mlflow_installed_the_run_stops_before_it_starts(project, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` raises ImportError
    result = modelyard("train", "config.yaml", "--output", "run", cwd=project, check=None)
    assert "pip install 'modelyard[mlflow]'" in user_error(result)
    assert not (project / "run").exists()


def test_a_store_that_does_not_answer_stops_the_run_before_it_starts(project):
    with socket.socket() as s:  # a local port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    result = modelyard(
        "train", "config.yaml", "--output", "run", "--set", f"tracking.mlflow={uri}",
        cwd=project, check=None,
    )  # fmt: skip
    assert f"tracking.mlflow: cannot record to '{uri}'" in user_error(result)
    assert not (project / "run").exists()


def test_an_unknown_kind_of_store_is_a_user_error(project):
    result = modelyard(
        "train", "config.yaml", "--set", "tracking.mlflow=nosuch://host", cwd=project, check=None
    )
    assert "cannot record to 'nosuch://host'" in user_error(result)
