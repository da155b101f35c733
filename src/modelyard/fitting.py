"""The one skeleton of `fit`, shared by every kind of model (`api.Model`, `LanguageModel`).

    join the processes -> open the run directory safely -> prepare the data -> seed -> build
    -> save the run's start -> train (train/loop.py) -> final metrics -> save the run's end

Each kind of model fills in the steps that differ (the `_` methods below); the order, the run
directory's safety (run.session), seeding, devices and precision are the same for all.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from modelyard import run
from modelyard.data.source import BatchSource
from modelyard.errors import UserError
from modelyard.train import distributed

# meta.json's key for the folder of the config a run was trained from (an absolute path):
# paths in the config that a loaded run still uses (a vocoder run, a judge) are relative to it
CONFIG_DIR = "config_dir"


def config_dir_of(base_dir: Path) -> dict[str, str]:
    """{CONFIG_DIR: the absolute `base_dir`}: what a kind's save puts in meta.json."""
    return {CONFIG_DIR: str(Path(base_dir).resolve())}


class Fitting:
    """Mixin: `config` (with `trainer` and `tracking` sections), `base_dir`, `module`,
    `history`, `metrics`."""

    config: Any
    base_dir: Path  # relative paths of the config start here (its file's folder)
    module: torch.nn.Module | None
    history: list[dict[str, float]]
    privacy_spent: dict[str, Any] | None = None  # trainer.privacy: (train/privacy.Private.record)
    # Called after each epoch (main process) with the history so far, after history.csv is
    # written: a tuner reports validation metrics from here (and may stop the run by raising).
    on_epoch_end: Callable[[list[dict[str, float]]], None] | None = None
    # False: no report.html (its plots take 1-2 s a run): tune trials, whose study writes one
    # report for them all
    writes_report: bool = True
    # False: no checkpoints while training (so no --resume of this run): tune trials, which a
    # resumed study retries from the start; at an epoch of a small table, writing one took a
    # quarter of the trial's time
    writes_checkpoints: bool = True

    def embedding_table(self) -> tuple[Any, list[str], str]:
        """((N, D) float array, N names, what they are) for `export --format projector`: the
        entity or item embeddings of runs that learn them."""
        raise UserError(
            "export --format projector writes learned entity or item embeddings: it works on "
            "link prediction and recommendation runs"
        )

    def generate_images(self, n: int, out, label=None, **options: Any) -> dict[str, Any]:
        """`modelyard generate --out`: images, from runs that make them (image generation)."""
        raise UserError(
            "generate --out draws images from a task: image_generation run; this run is not "
            "one (a language model continues --prompt TEXT)"
        )

    def _fit_run(
        self, output_dir: str | Path | None, resume: bool, overwrite: bool, data: Any = None
    ):
        """Train; with `output_dir`, write the run directory there (`resume`: continue its
        checkpoint; `overwrite`: replace an existing run once the new one has finished)."""
        from modelyard.train import tracking

        procs = distributed.init(self.config.trainer.device)
        self._resolve(data)
        target = _run_target(output_dir, resume)
        store = tracking.connect(self.config, self.base_dir) if procs.is_main else None
        with run.session(target, resume, overwrite, self.config, procs) as run_dir:
            return self._train(data, run_dir, resume, procs, store)

    def _train(self, data: Any, run_dir: Path | None, resume: bool, procs, store) -> Any:
        """`store`: the MLflow store to record to (train/tracking.connect), or None."""
        from modelyard.metrics import metric_mode
        from modelyard.train import checkpoint
        from modelyard.train.loop import FitSetup, fit
        from modelyard.train.precision import pick_device, use_bf16
        from modelyard.train.tracking import open_tracker, recording

        settings = self.config.trainer
        self._run_dir = run_dir  # its scratch space holds a streamed CSV's Parquet copy
        prepared = self._prepare(data, run_dir if resume else None, procs)
        seed_everything(settings.seed)
        self.module = self._build(prepared)
        if procs.is_main:
            from modelyard.models.size import describe, model_size
            from modelyard.train.progress import log

            log(f"model: {describe(model_size(self.module))}")
        if run_dir is not None and procs.is_main and not resume:
            self._save_start(run_dir, prepared)
        device = pick_device(settings.device, procs.local_rank)
        bf16 = use_bf16(settings.precision, device)
        stopping = settings.early_stopping
        setup = FitSetup(
            settings=settings,
            objective=self._objective(prepared),
            device=device,
            bf16=bf16,
            procs=procs,
            validate=self._validation(prepared, device, bf16),
            metric_mode=metric_mode(stopping.metric, "trainer.early_stopping.metric")
            if stopping
            else "min",
            shown=self._epoch_metrics(),
            step=self._train_step(),
            after_epoch=_after_epoch(run_dir, self.on_epoch_end),
            checkpoint_path=run_dir / run.CHECKPOINT
            if run_dir is not None and self.writes_checkpoints
            else None,
            resume=checkpoint.load(run_dir / run.CHECKPOINT) if resume and run_dir else None,
        )
        if procs.is_main:
            setup.tracker = open_tracker(run_dir, self.config, store, resume)
        with recording(setup.tracker):  # ends the tracker's records: finished, failed, killed
            state = fit(self._network(prepared), self._train_source(prepared), setup)
            self.module.eval()  # trained: no dropout for whoever calls it next
            self.history = state.history
            self.privacy_spent = state.privacy  # trainer.privacy: the accountant's record
            # once, on the training device; the other processes wait at the barrier
            details = self._final_metrics(prepared, device) if procs.is_main else {}
            self.module.to("cpu")
            if run_dir is not None and procs.is_main:
                self._save_end(run_dir, details)
            if setup.tracker is not None:
                setup.tracker.end(self.metrics, run_dir)
        distributed.barrier(procs)
        return self

    # What the kinds whose data the config names (their files) say when `fit` is handed data:
    # "<kind> reads its <things> from the config (data.train)"; "" for kinds that take data.
    reads_from_config: str = ""

    def fit(
        self,
        data: Any = None,
        *,
        output_dir: str | Path | None = None,
        resume: bool = False,
        overwrite: bool = False,
    ) -> Any:
        """Read the data files the config names, train, measure; with `output_dir`, write the
        run directory there (`resume`: continue its checkpoint; `overwrite`: replace it).
        Kinds that also take data in memory (tables) override this."""
        if data is not None:
            raise UserError(f"{self.reads_from_config}; fit takes no data")
        return self._fit_run(output_dir, resume, overwrite, None)

    # ------------------------------------------------------------ loading a saved run

    @classmethod
    def _open_saved(cls, folder: Path, weights: str = "weights.safetensors") -> tuple[Any, Path]:
        """(a model of `cls` with the config saved in `folder`, its weights file): how every
        own-model kind's `load` starts. A folder without weights is a run whose training did
        not finish (exit 2, with how to go on)."""
        from modelyard.config import validate

        config_file = folder / run.CONFIG_FILE
        model = cls(validate(run.read_json(config_file), str(config_file)))
        meta = folder / "meta.json"
        config_dir = run.read_json(meta).get(CONFIG_DIR) if meta.is_file() else None
        if config_dir is not None and Path(config_dir).is_dir():
            model.base_dir = Path(config_dir)  # its relative paths (vocoder, judge) work again
        if not (folder / weights).is_file():
            raise UserError(
                f"'{folder}' has no {weights}; the training did not finish (resume it: "
                "modelyard train --resume)"
            )
        return model, folder / weights

    def _finish_loading(self, module: torch.nn.Module, weights: Path) -> Any:
        """Put the saved `weights` into `module` (built from the saved state), in eval mode,
        and read the run's metrics.json (beside the model folder) if there is one."""
        from safetensors.torch import load_file

        module.load_state_dict(load_file(str(weights)))
        self.module = module.eval()
        metrics = weights.parent.parent / "metrics.json"
        self.metrics = run.read_json(metrics) if metrics.is_file() else {}
        return self

    # ------------------------------------------------------------ the steps that differ

    def _resolve(self, data: Any) -> None:
        """Settle the config for this fit before the run directory records it."""

    def _prepare(self, data: Any, saved_run: Path | None, procs) -> Any:
        """Read and preprocess the data (fitting preprocessing on the training rows, or
        reloading the saved run's own when resuming); returns what the later steps need."""
        raise NotImplementedError

    def _build(self, prepared: Any) -> torch.nn.Module:
        raise NotImplementedError

    def _objective(self, prepared: Any):
        """(network, batch) -> scalar loss (train/loop.Objective)."""
        raise NotImplementedError

    def _validation(self, prepared: Any, device: torch.device, bf16: bool):
        """network -> {metric: value} on the validation rows after each epoch, or None."""
        raise NotImplementedError

    def _epoch_metrics(self) -> tuple[str, ...]:
        return ()

    def _train_step(self):
        """A training step of the model's own (train/loop.Step), or None for the default."""
        return None

    def _network(self, prepared: Any) -> torch.nn.Module:
        """What the loop trains: the module, or a wrapper computing its loss."""
        return self.module

    def _train_source(self, prepared: Any) -> BatchSource:
        """The training batches (data/source.py), augmented where the config says so."""
        raise NotImplementedError

    def _final_metrics(self, prepared: Any, device: torch.device) -> dict[str, Any]:
        """Set self.metrics; returns the report's details."""
        raise NotImplementedError

    def _save_start(self, run_dir: Path, prepared: Any) -> None:
        raise NotImplementedError

    def _save_end(self, run_dir: Path, details: dict[str, Any]) -> None:
        """The model folder, then metrics.json, history and report.html (run.write_results)."""
        from modelyard.train.progress import log

        self.save(run_dir / run.MODEL_DIR)
        report = run.write_results(
            run_dir, self.config, self.metrics, self.history, details, self.writes_report
        )
        final = run.final_dir(run_dir)
        shown = f" (report: {final / report.relative_to(run_dir)})" if report else ""
        log(f"run saved to {final}{shown}")


def _after_epoch(run_dir: Path | None, listener: Callable | None):
    """Rewrites the run's history.csv after every epoch, so a killed run keeps its record and
    a long one can be watched, then calls `listener`; None when there is nothing to do."""
    if run_dir is None:
        return listener

    def after_epoch(history: list[dict[str, float]]) -> None:
        run.write_history(run_dir / run.HISTORY_FILE, history)
        if listener is not None:
            listener(history)

    return after_epoch


def _run_target(output_dir: str | Path | None, resume: bool) -> Path | None:
    if resume and output_dir is None:
        raise UserError(
            "fit(resume=True) needs output_dir: the run directory whose checkpoint to continue"
        )
    return Path(output_dir) if output_dir is not None else None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
