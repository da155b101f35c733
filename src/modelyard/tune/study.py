"""An Optuna study kept in a directory, run by one or more worker processes.

    DIR/study.log          the study (Optuna's JournalStorage on a JournalFileBackend): every
                           worker appends to it, and a re-run of the command continues it
    DIR/trials/<number>/   each trial's run directory, as `modelyard train` writes it

One `modelyard tune` command per directory at a time (DIR/tune.lock). At its start, trials a
killed command left running are marked failed and queued again with the same values (as
Optuna's `RetryHeartbeatStaleTrialCallback` does for RDB storages; the journal storage has no
heartbeat); such a failed trial does not count towards the total.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelyard.errors import UserError
from modelyard.train.progress import LOGGER, log
from modelyard.tune.space import Study, load_study, suggest

STUDY_NAME = "modelyard"
JOURNAL = "study.log"
TRIALS = "trials"
FAILURES_IN_A_ROW = 3  # in one worker: then something is wrong with more than a trial's values


@dataclass(frozen=True)
class Plan:
    """One `modelyard tune` command: plain values, so that worker processes can receive it."""

    config: str  # the config file (with its tune: section)
    output: Path
    trials: int  # in the study in all
    workers: int
    timeout: float | None  # seconds after which no trial starts
    threads: int | None  # torch threads of each worker (None: leave as is)


class MetricMissing(UserError):
    """The tuned metric is not in a trial's validation metrics: every trial would lack it."""


def run(plan: Plan) -> Any:
    """Run the study to `plan.trials` trials (continuing one already in `plan.output`);
    returns the Optuna study."""
    definition = load_study(plan.config)
    plan.output.mkdir(parents=True, exist_ok=True)
    with _exclusive(plan.output / "tune.lock", wait=False):
        study = _open(plan.output, definition)
        _retry_interrupted(study)
        if plan.workers == 1:
            work(plan, 0)
        else:
            _spawn(plan)
    return study  # (it reads the journal afresh)


def work(plan: Plan, index: int) -> None:
    """A worker: takes trials of the shared study until it has `plan.trials` (or time is up)."""
    import optuna
    import torch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if plan.threads is not None:
        torch.set_num_threads(plan.threads)
    definition = load_study(plan.config)
    storage = _storage(plan.output)
    taken = len(optuna.load_study(study_name=STUDY_NAME, storage=storage).trials)
    study = optuna.load_study(
        study_name=STUDY_NAME,
        storage=storage,
        sampler=_sampler(definition, seed=definition.tune.seed + 7919 * index + 104729 * taken),
        pruner=_pruner(definition),
    )
    deadline = time.monotonic() + plan.timeout if plan.timeout else None
    failed_in_a_row = 0
    while (trial := _next_trial(study, plan, deadline)) is not None:
        error = _run_trial(study, trial, definition, plan.output)
        failed_in_a_row = failed_in_a_row + 1 if error else 0
        if failed_in_a_row == FAILURES_IN_A_ROW:
            raise UserError(
                f"{FAILURES_IN_A_ROW} trials in a row failed, the last with: {error}; fix the "
                "config, its data or the space, then run the command again to continue"
            )


def counted(trials: list[Any]) -> int:
    """Trials that count towards the total: all but those interrupted and queued again."""
    retried = {t.user_attrs.get("retry_of") for t in trials}
    return sum(1 for t in trials if t.number not in retried)


# ---------------------------------------------------------------- one trial


def _run_trial(study: Any, trial: Any, definition: Study, output: Path) -> str | None:
    """Train one trial's config into DIR/trials/<number>/ and tell the study how it went;
    returns the error that failed it, if any."""
    import optuna

    from modelyard.api import Model

    started = time.perf_counter()
    values = {key: suggest(trial, key, p) for key, p in definition.tune.space.items()}
    trial.set_user_attr("values", values)
    metric = definition.tune.metric
    try:
        model = Model(definition.trial_config({**values, "baselines": False}), definition.base)
        model.on_epoch_end = _reporter(trial, metric)
        model.writes_report = False  # the study's report.html covers its trials
        model.writes_checkpoints = False  # an interrupted trial is retried from its start
        with _quiet():
            model.fit(output_dir=output / TRIALS / str(trial.number))
        value = _final(model.metrics.get("validation", {}), metric)
    except optuna.TrialPruned:
        _tell(study, trial, started, state=optuna.trial.TrialState.PRUNED)
    except MetricMissing:
        _tell(study, trial, started, state=optuna.trial.TrialState.FAIL)
        raise
    except UserError as e:  # e.g. training diverged at these values: the study goes on
        trial.set_user_attr("error", str(e))
        _tell(study, trial, started, state=optuna.trial.TrialState.FAIL)
        return str(e)
    except Exception:  # our bug: recorded, then stops the study with its traceback
        _tell(study, trial, started, state=optuna.trial.TrialState.FAIL)
        raise
    else:
        _tell(study, trial, started, values=value)
    return None


def _reporter(trial: Any, metric: str):
    """After each epoch: the validation metric to Optuna's pruner; raises TrialPruned when the
    pruner says the trial is worse than the others at this epoch."""
    import optuna

    def report(history: list[dict[str, float]]) -> None:
        row, epoch = history[-1], int(history[-1]["epoch"])
        validation = {
            k[len("validation_") :]: v for k, v in row.items() if k.startswith("validation_")
        }
        trial.report(_final(validation, metric), epoch)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {epoch}")

    return report


def _final(metrics: dict[str, float], metric: str) -> float:
    if metric not in metrics:
        known = ", ".join(k for k in metrics if k != "rows") or "none"
        raise MetricMissing(
            f"tune.metric: '{metric}' was not computed on the validation split (it gives: "
            f"{known}); choose one of those, or a larger validation split"
        )
    return float(metrics[metric])


def _tell(study: Any, trial: Any, started: float, **outcome: Any) -> None:
    seconds = time.perf_counter() - started
    trial.set_user_attr("seconds", round(seconds, 3))
    frozen = study.tell(trial, **outcome)
    state = frozen.state.name.lower()
    value = (
        f" {study.user_attrs['tune']['metric']} {frozen.value:.4g}"
        if frozen.value is not None
        else ""
    )
    reason = f": {frozen.user_attrs['error']}" if "error" in frozen.user_attrs else ""
    shown = ", ".join(f"{k}={_short(v)}" for k, v in frozen.user_attrs.get("values", {}).items())
    log(f"trial {frozen.number} {state}{value} in {seconds:.1f}s ({shown}){reason}")


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else json.dumps(value)


@contextlib.contextmanager
def _quiet():
    """A trial's own notes and epoch lines stay in its run directory's files, not the log."""
    level = LOGGER.level
    if LOGGER.getEffectiveLevel() < logging.WARNING:
        LOGGER.setLevel(logging.WARNING)
    try:
        yield
    finally:
        LOGGER.setLevel(level)


# ---------------------------------------------------------------- the study


def load(output: Path) -> Any:
    """The study recorded in `output`'s journal, as it stands."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=STUDY_NAME, storage=_storage(output))


def _storage(output: Path) -> Any:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(output / JOURNAL)))


def _open(output: Path, definition: Study) -> Any:
    """Create the study in `output`, or load it: it must have been started with this space,
    metric and direction."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=_storage(output),
        study_name=STUDY_NAME,
        direction=definition.direction,
        load_if_exists=True,
    )
    current = json.loads(
        json.dumps(
            {
                "space": {
                    k: p.model_dump(exclude_defaults=True) for k, p in definition.tune.space.items()
                },
                "metric": definition.tune.metric,
                "direction": definition.direction,
            }
        )
    )
    saved = study.user_attrs.get("tune")
    if saved is None:
        study.set_user_attr("tune", current)
    elif saved != current:
        raise UserError(
            f"'{output}' holds a study of another search space, metric or direction; "
            "choose another --output, or delete that folder to start again"
        )
    return study


def _sampler(definition: Study, seed: int) -> Any:
    import optuna

    if definition.tune.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


def _pruner(definition: Study) -> Any:
    import optuna

    tune = definition.tune
    if tune.pruner == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=5, n_warmup_steps=tune.pruner_warmup_epochs
        )
    if tune.pruner == "hyperband":
        epochs = definition.trial_config({}).trainer.epochs
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs)
    return optuna.pruners.NopPruner()


def _next_trial(study: Any, plan: Plan, deadline: float | None) -> Any:
    """A new trial (or a queued retry), or None once the study has its trials or time is up.
    Counting and asking happen under a lock, so that workers together start no more than
    `plan.trials`."""
    from optuna.trial import TrialState

    if deadline is not None and time.monotonic() > deadline:
        return None
    with _exclusive(plan.output / "ask.lock", wait=True):
        trials = study.get_trials(deepcopy=False)
        waiting = any(t.state == TrialState.WAITING for t in trials)
        if not waiting and counted(trials) >= plan.trials:
            return None
        return study.ask()


def _retry_interrupted(study: Any) -> None:
    """Trials a killed command left running: failed, and queued again with the same values."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(trial.number, state=TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
        log(f"trial {trial.number} was interrupted; it runs again as a new trial")


def _spawn(plan: Plan) -> None:
    """`plan.workers` processes, each a `work`er; the first error (a UserError too) is raised
    here once all have ended."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
    with ProcessPoolExecutor(plan.workers, mp_context=context) as pool:
        level = LOGGER.getEffectiveLevel()
        futures = [pool.submit(_work_logged, plan, i, level) for i in range(plan.workers)]
        errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error


def _work_logged(plan: Plan, index: int, level: int) -> None:
    """`work` in a fresh process, logging at the parent's level."""
    LOGGER.setLevel(level)
    work(plan, index)


@contextlib.contextmanager
def _exclusive(path: Path, wait: bool):
    """Hold an exclusive lock on `path` (the system releases it if the process dies); without
    `wait`, a lock held elsewhere means another command is running there."""
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise UserError(
                f"another `modelyard tune` is running on '{path.parent}'; wait for it, or start "
                "more workers with --workers"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
