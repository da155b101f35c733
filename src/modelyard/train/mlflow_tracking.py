"""MLflow records of a run (config `tracking.mlflow`: a tracking URI), through MLflow's own
client; MLflow is an extra (`pip install 'modelyard[mlflow]'`). The main process records:

    params     the resolved config, flattened: `trainer.optimizer.lr`, `inputs.0.name`
    metrics    `train_loss_step` every `tracking.every_steps` steps (by global step); per epoch
               (step = epoch) history.csv's columns (`train_loss`, `validation_<metric>`, `lr`,
               `lr_<group>`) and `rows_per_second`; at the end metrics.json's numbers as
               `final_<split>_<metric>`
    artifacts  the run directory's `model/` and `report.html`, at the end
    status     FINISHED; FAILED when training raised; KILLED when it was interrupted (Ctrl-C)

`connect` checks the store before anything heavy runs; `start` opens the MLflow run once the
model is built. A run directory names its MLflow run in `mlflow.json`, and `--resume`
continues that run (steps it had already recorded are not recorded twice).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from modelyard.errors import UserError
from modelyard.train.progress import log

RUN_FILE = "mlflow.json"  # in the run directory: {tracking_uri, experiment_id, run_id}
INSTALL = "pip install 'modelyard[mlflow]'"
ARTIFACTS_BESIDE_DB = "mlartifacts"  # a local sqlite store's artifacts: beside its file
_PARAM_VALUE_LIMIT = 6000  # MLflow's (MAX_PARAM_VAL_LENGTH), and its key's
_KEY_LIMIT = 250
_BATCH = 100  # params per log_batch call (MLflow's limit)
_TRUNCATED = "...(truncated)"


@dataclass
class Store:
    """A tracking store that answered: MLflow's client, the URI (relative paths resolved) and
    the experiment's id."""

    client: Any
    uri: str
    experiment_id: str


def connect(uri: str, experiment: str, base: Path) -> Store:
    """Check, before anything heavy runs, that MLflow is installed and the store at `uri`
    answers (a relative sqlite or file path is relative to `base`); find `experiment` there,
    or create it. Raises UserError naming the URI otherwise."""
    resolved = resolve_uri(uri, base)
    _require_mlflow(resolved)
    from mlflow import MlflowClient

    try:
        client = MlflowClient(tracking_uri=resolved)
        with _fail_fast():
            experiment_id = _experiment(client, experiment, resolved)
    except _store_errors() as e:
        raise UserError(f"tracking.mlflow: cannot record to '{uri}': {_said(e)}") from None
    return Store(client, resolved, experiment_id)


def resolve_uri(uri: str, base: Path) -> str:
    """`sqlite:///runs.db`, `file:mlruns` or a bare path, relative to `base`, as absolute
    URIs; other URIs (absolute paths, http(s), databases) as they are."""
    if uri.startswith("sqlite:///"):
        path = uri.removeprefix("sqlite:///")
        if path.startswith("/") or path.startswith(":memory:"):
            return uri
        return "sqlite:///" + str((base / path).resolve())
    parts = urlparse(uri)
    if parts.scheme in ("", "file") and not parts.netloc:
        return (base / parts.path).resolve().as_uri()
    return uri


def _require_mlflow(uri: str) -> None:
    try:
        import mlflow  # noqa: F401
    except ImportError as e:
        raise UserError(
            f"tracking.mlflow is set, but MLflow cannot be imported ({e}); install it: {INSTALL}"
        ) from None
    missing = [m for m in ("sqlalchemy", "alembic") if importlib.util.find_spec(m) is None]
    if uri.startswith("sqlite:") and missing:
        raise UserError(
            f"tracking.mlflow: a sqlite store needs {' and '.join(missing)}, which are not installed; install them: {INSTALL}"
        )


def _experiment(client, name: str, uri: str) -> str:
    """The id of the experiment `name`, created if missing (a local sqlite store's with its
    artifacts beside the database file, not in the working directory)."""
    found = client.get_experiment_by_name(name)
    if found is None:
        try:
            return client.create_experiment(name, artifact_location=_artifact_location(uri))
        except _store_errors():  # created meanwhile by another run
            found = client.get_experiment_by_name(name)
            if found is None:
                raise
    if found.lifecycle_stage == "deleted":
        raise UserError(
            f"tracking.mlflow_experiment: experiment '{name}' in '{uri}' is deleted; restore it (mlflow experiments restore --experiment-id {found.experiment_id}) or name another"
        )
    return found.experiment_id


def _artifact_location(uri: str) -> str | None:
    if not uri.startswith("sqlite:///") or ":memory:" in uri:
        return None
    return (Path(uri.removeprefix("sqlite:///")).parent / ARTIFACTS_BESIDE_DB).as_uri()


@contextlib.contextmanager
def _fail_fast() -> Iterator[None]:
    """An http(s) store that does not answer fails the check in seconds, not after MLflow's
    minutes of retries (unless the user set MLflow's own variables for that)."""
    settings = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
    added = {k: v for k, v in settings.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def _store_errors() -> tuple[type[BaseException], ...]:
    """What a store that cannot be used raises: MLflow's error, a missing database driver,
    the database's or the connection's own errors."""
    from mlflow.exceptions import MlflowException
    from requests.exceptions import RequestException

    errors: list[type[BaseException]] = [MlflowException, ImportError, RequestException, OSError]
    if importlib.util.find_spec("sqlalchemy") is not None:
        from sqlalchemy.exc import SQLAlchemyError

        errors.append(SQLAlchemyError)
    return tuple(errors)


def _said(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 600 else text[:600] + " ..."


class MlflowRun:
    """One MLflow run, open; `step`, `epoch`, `end` and `close` as train/tracking.Trackers
    calls them. After a resume, steps and epochs it already holds are skipped: the resumed
    training repeats them exactly."""

    def __init__(self, store: Store, run_id: str, last_step: int = 0, last_epoch: int = 0):
        self.client, self.run_id = store.client, run_id
        self.last_step, self.last_epoch = last_step, last_epoch

    def step(self, global_step: int, loss: float) -> None:
        if global_step > self.last_step:
            self.client.log_metric(self.run_id, "train_loss_step", loss, step=global_step)

    def epoch(self, row: dict[str, float], rows: int) -> None:
        """`row`: the history's row of this epoch; `rows`: training rows per epoch."""
        epoch = int(row["epoch"])
        if epoch <= self.last_epoch:
            return
        values = {k: v for k, v in row.items() if k not in ("epoch", "seconds")}
        values["rows_per_second"] = rows / row["seconds"]
        self._metrics(values, epoch)

    def end(self, metrics: dict[str, dict[str, Any]], run_dir: Path | None) -> None:
        """metrics.json's numbers; the run directory's model/ and report.html."""
        self._metrics(
            {
                metric_name(f"final_{split}_{name}"): value
                for split, found in metrics.items()
                for name, value in found.items()
                if isinstance(value, int | float) and not isinstance(value, bool)
            },
            step=0,
        )
        if run_dir is None:
            return
        self.client.log_artifacts(self.run_id, str(run_dir / "model"), "model")
        if (run_dir / "report.html").is_file():
            self.client.log_artifact(self.run_id, str(run_dir / "report.html"))

    def close(self, status: str) -> None:
        """`status`: FINISHED, FAILED or KILLED."""
        self.client.set_terminated(self.run_id, status)

    def _metrics(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(_key(k), float(v), now, step) for k, v in values.items()]
        self.client.log_batch(self.run_id, metrics=batch)


def start(store: Store, run_dir: Path | None, config, resume: bool) -> MlflowRun:
    """Open the run's MLflow run: the one `run_dir/mlflow.json` names when resuming, else a
    new one (named after the run directory, else the config), with the config as params."""
    from modelyard import run

    params = flat_params(config.model_dump(mode="json"))
    record = run_dir / RUN_FILE if run_dir is not None else None
    if resume and record is not None and record.is_file():
        return _resume(store, record, params)
    if resume:
        log(f"note: {record} names no MLflow run; recording the rest in a new one")
    where = run.final_dir(run_dir) if run_dir is not None else None
    tags = {"modelyard.run_dir": str(where.resolve())} if where is not None else {}
    created = store.client.create_run(
        store.experiment_id, run_name=where.name if where else config.name, tags=tags
    )
    run_id = created.info.run_id
    if record is not None:
        record.write_text(
            json.dumps(
                {"tracking_uri": store.uri, "experiment_id": store.experiment_id, "run_id": run_id}
            )
            + "\n",
            encoding="utf-8",
        )
    _log_params(store.client, run_id, params, {})
    log(f"MLflow: recording to run {run_id} of experiment {store.experiment_id} at {store.uri}")
    return MlflowRun(store, run_id)


def _resume(store: Store, record: Path, params: dict[str, str]) -> MlflowRun:
    """Continue the MLflow run `record` names (RUNNING again), skipping what it holds."""
    from mlflow.exceptions import MlflowException

    run_id = json.loads(record.read_text(encoding="utf-8"))["run_id"]
    try:
        found = store.client.get_run(run_id)
    except MlflowException:
        raise UserError(
            f"cannot resume the MLflow run {run_id} that {record} names: it is not in '{store.uri}'; point tracking.mlflow at its store, or delete {record} to record the rest of this run in a new MLflow run"
        ) from None
    store.client.update_run(run_id, status="RUNNING")
    _log_params(store.client, run_id, params, found.data.params)
    log(f"MLflow: continuing run {run_id} at {store.uri}")
    return MlflowRun(
        store,
        run_id,
        _last_step(store.client, run_id, "train_loss_step"),
        _last_step(store.client, run_id, "train_loss"),
    )


def _last_step(client, run_id: str, key: str) -> int:
    return max((m.step for m in client.get_metric_history(run_id, key)), default=0)


def _log_params(client, run_id: str, params: dict[str, str], logged: dict[str, str]) -> None:
    """Params not logged yet; a resumed run's changed ones (MLflow's params never change) as
    tags `modelyard.resumed.<key>`."""
    from mlflow.entities import Param, RunTag

    new = [Param(k, v) for k, v in params.items() if k not in logged]
    changed = [
        RunTag(f"modelyard.resumed.{k}", v) for k, v in params.items() if logged.get(k, v) != v
    ]
    for i in range(0, len(new), _BATCH):
        client.log_batch(run_id, params=new[i : i + _BATCH])
    if changed:
        client.log_batch(run_id, tags=changed[:_BATCH])


def flat_params(config: dict[str, Any]) -> dict[str, str]:
    """The resolved config as MLflow params: one per leaf, keyed by its dotted path (list items
    by index, as `--set` writes them); non-strings as JSON; a value over MLflow's 6000
    characters cut, ending in `...(truncated)` (config.yaml in the run directory has it whole)."""
    flat: dict[str, str] = {}
    _flatten(config, "", flat)
    return {
        _key(k): v
        if len(v) <= _PARAM_VALUE_LIMIT
        else v[: _PARAM_VALUE_LIMIT - len(_TRUNCATED)] + _TRUNCATED
        for k, v in flat.items()
        if len(_key(k)) <= _KEY_LIMIT
    }


def _flatten(node: Any, path: str, into: dict[str, str]) -> None:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            _flatten(value, f"{path}.{key}" if path else str(key), into)
    elif isinstance(node, list) and any(isinstance(v, dict | list) for v in node):
        for i, value in enumerate(node):
            _flatten(value, f"{path}.{i}", into)
    else:
        into[path] = node if isinstance(node, str) else json.dumps(node)


def _key(name: str) -> str:
    """A param or metric name MLflow accepts: letters, digits, `_ - . / : ` and spaces."""
    return re.sub(r"[^\w\-. /:]", "_", name)


def metric_name(name: str) -> str:
    """`name` as MLflow accepts it: characters other than letters, digits, `_`, `-`, `.`,
    space, `:` and `/` (a fairness group such as `(missing)` or `>50K`) become `_`."""
    return re.sub(r"[^\w\-. :/]", "_", name)
