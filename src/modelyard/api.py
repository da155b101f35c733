"""The Python API: `Model.from_config(...).fit()`, `.evaluate`, `.predict`, `.save`, `Model.load`.

The CLI calls exactly these; every step of ARCHITECTURE.md's path appears here once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch

from modelyard import run
from modelyard.config import load_config, validate
from modelyard.config.schema import Config
from modelyard.config.schema.trainer import early_stopping_chosen
from modelyard.data.columns import column_hint
from modelyard.data.features import Preprocessing, Table
from modelyard.data.read import read_data
from modelyard.data.source import BatchSource, InMemorySource
from modelyard.data.split import (
    file_columns,
    given_splits,
    label_columns,
    read_config_data,
    split_tables,
    with_resolved_split,
)
from modelyard.errors import UserError
from modelyard.fitting import Fitting
from modelyard.kinds import KINDS, part
from modelyard.models.encoders.pretrained import checkpoint_sources, pretrained_inputs
from modelyard.train import distributed
from modelyard.train.progress import log

if TYPE_CHECKING:
    from modelyard.data.files import LazyInputs

DataArg = pd.DataFrame | str | Path | None
BACKBONES = "backbones"  # model/backbones/<input name>/: Hugging Face checkpoint + tokenizer


@dataclass
class _Prepared:
    """What fitting a Model prepares: the splits as read (`read`: DataFrames, None where a
    split is absent) and as tensors (`tables`), splits.json's sources, the losses."""

    read: dict[str, pd.DataFrame | None]
    tables: dict[str, Table]
    sources: dict[str, str]
    losses: dict
    stream: Any = None  # (TableFiles, TrainingRows, Scanned) when the training rows stream
    baselines: Any = None  # the future of the baselines' predictions (baselines.Worker)


def kind_class(task: str) -> type:
    """The model class of the config kind `task` (a key of kinds.KINDS)."""
    return part(task, "model")


class Model(Fitting):
    """A model described by a config; trained by `fit`, applied by `evaluate` and `predict`."""

    def __init__(self, config: Config, base_dir: Path | None = None):
        self.config = config
        self._written_config = config  # data.split as written; each fit resolves it (see fit)
        self.base_dir = base_dir or Path.cwd()
        self.preprocessing: Preprocessing | None = None
        self.module: torch.nn.Module | None = None
        self.metrics: dict[str, dict[str, float]] = {}
        self.history: list[dict[str, float]] = []
        self.mitigation: dict[str, Any] | None = None  # fairness.json (modelyard.fairness)
        self.privacy_notes: list[str] = []  # trainer.privacy: layers replaced (build_model)

    @classmethod
    def from_config(cls, source: str | Path | dict[str, Any], overrides: list[str] = ()) -> Model:
        """From a YAML path or a dict; `overrides` are `KEY=VALUE` strings like `trainer.epochs=5`.
        A `task: language_model` config gives a `LanguageModel` (same fit/evaluate/save/load)."""
        config, base = load_config(source, overrides)
        if config.task in KINDS:
            return kind_class(config.task)(config, base)
        return cls(config, base)

    # ------------------------------------------------------------ training

    def fit(
        self,
        train: DataArg = None,
        validation: DataArg = None,
        test: DataArg = None,
        *,
        output_dir: str | Path | None = None,
        resume: bool = False,
        overwrite: bool = False,
    ) -> Model:
        """Train on the config's data, or on the DataFrames given. Splits given are used as
        they are; a missing one is cut from `train` by the config's ratio (`data.split`), except
        test when validation is given (unless `data.split.test` is written in the config).
        `self.config` then shows null for ratios not used. With `output_dir`, writes the run
        directory there.
        `overwrite` replaces an existing run there only once the new one has finished."""
        return self._fit_run(output_dir, resume, overwrite, data=(train, validation, test))

    # The steps of fitting.Fitting's skeleton, for a model of inputs and outputs.

    def _train(self, data, run_dir: Path | None, resume: bool, procs, store) -> Model:
        if self.config.model_type == "gbdt":  # boosted trees instead of the training loop
            from modelyard.models import gbdt

            return gbdt.train(self, data, run_dir, procs)
        return super()._train(data, run_dir, resume, procs, store)

    def _resolve(self, data: tuple[DataArg, DataArg, DataArg]) -> None:
        self.config = self._resolved_config(*data)

    def _prepare(self, data: tuple[DataArg, DataArg, DataArg], saved_run, procs) -> _Prepared:

        files = self._streamed_files(data)
        if files is not None:
            return self._prepare_streamed(files, saved_run, procs)
        worker = self._baselines_worker(procs)
        try:
            return self._prepare_in_memory(data, saved_run, procs, worker)
        except BaseException:
            if worker is not None:
                worker.cancel()
            raise

    def _baselines_worker(self, procs):
        """The baselines' process (modelyard.baselines.Worker), started now so that it has
        imported scikit-learn by the time the data are ready; None where none will be fitted."""
        from modelyard import baselines

        if not (procs.is_main and self.config.baselines):
            return None
        if baselines.skip_reason(self.config) is not None:  # the config's inputs and outputs
            return None
        return baselines.worker()

    def _prepare_in_memory(self, data, saved_run, procs, worker) -> _Prepared:
        from modelyard.models.build import build_losses

        tables = self._read_splits(*data)
        self._check_trainable(tables)
        self._fit_preprocessing(tables["train"], saved_run, procs)
        lazy = self._lazy_files([t for t in tables.values() if t is not None], procs)
        prepared = {
            name: self.preprocessing.prepare(t, name, lazy_files=lazy)
            for name, t in tables.items()
            if t is not None
        }
        self._log_notes(procs)
        losses = build_losses(self.config, self.preprocessing)
        found = _Prepared(tables, prepared, self._split_sources(*data), losses)
        applies = procs.is_main and self._baselines_apply(found)  # (its note where they do not)
        if worker is not None and applies:  # _baselines_worker's rules, on the fitted features
            found.baselines = worker.submit(self.preprocessing, prepared, self.config.trainer.seed)
        elif worker is not None:
            worker.cancel()
        return found

    def _build(self, prepared: _Prepared) -> torch.nn.Module:
        from modelyard.models.build import build_model

        if self.config.trainer.privacy is not None and prepared.stream is not None:
            raise UserError(
                "trainer.privacy needs the training rows in memory (Poisson sampling draws "
                "any row at any step), and this training data streams; set data.streaming: false"
            )
        self.privacy_notes = []
        module = build_model(self.config, self.preprocessing, self.privacy_notes)
        if self.privacy_notes:
            log(
                "note: trainer.privacy: replaced the layers that normalise a row by the others "
                f"of its batch (DP-SGD needs each row's own gradient): {'; '.join(self.privacy_notes)}"
            )
        return module

    def _objective(self, prepared: _Prepared):
        from modelyard.train.loop import supervised_objective

        return supervised_objective(prepared.losses)

    def _validation(self, prepared: _Prepared, device: torch.device, bf16: bool):
        from modelyard.evaluate import compactor, infer, per_epoch, score

        table = prepared.tables.get("validation")
        if table is None:
            return None
        inputs, eval_batch_size = self._inputs(table), self.config.trainer.eval_batch_size
        compact = compactor(self.preprocessing, table)

        def validate(module) -> dict[str, float]:
            with per_epoch(module):
                outputs = infer(module, inputs, device, bf16, eval_batch_size, compact)
            return score(self.preprocessing, outputs, table, prepared.losses, details=False)[0]

        return validate

    def _train_source(self, prepared: _Prepared) -> BatchSource:
        """The training table's inputs (packed) and targets, with the inputs' augmentation."""
        from modelyard.data.augment import build_augmenters

        if prepared.stream is not None:
            return self._stream_source(prepared.stream)
        train, settings = prepared.tables["train"], self.config.trainer
        augmenters = build_augmenters(self.preprocessing)
        poisson = settings.privacy is not None  # DP-SGD's batches (train/privacy.py)
        if train.lazy:  # image/audio files decoded by DataLoader workers (data/files.py)
            from modelyard.data.files import FileSource

            def pack(t):
                return {**self.module.pack(t), **{f.name: t[f.name] for f in self.config.outputs}}

            workers, weights = self.config.data.workers, self._row_weights(train)
            return FileSource(
                train, pack, settings.batch_size, settings.seed, augmenters, workers, None, weights,
                poisson,
            )  # fmt: skip
        tensors = {**self.module.pack(train.tensors), **_targets(train, self.config)}
        weights = self._row_weights(train)
        return InMemorySource(
            tensors, settings.batch_size, settings.seed, augmenters, weights, poisson
        )

    def _row_weights(self, train: Table) -> torch.Tensor | None:
        """(N,) sampling weights of the training rows (data.sampling: balanced, by the class
        of the single output; config/checks.py), or None (a shuffle)."""
        if self.config.data.sampling != "balanced":
            return None
        from modelyard.data.source import balanced_row_weights

        return balanced_row_weights(train.tensors[self.config.outputs[0].name])

    # ------------------------------------------------------------ streamed training rows

    def _streamed_files(self, data: tuple[DataArg, DataArg, DataArg]):
        """The training table as streamed files (data/stream.TableFiles) when `data.streaming`
        says so for the config's training file, else None (DataFrames given to fit, tables of
        image or audio paths, class folders and tables that fit comfortably in memory are read
        whole)."""
        from modelyard.data.memory import too_large
        from modelyard.data.read import parquet_files
        from modelyard.data.stream import TEXT_SUFFIXES, TableFiles, splits_while_streaming

        settings = self.config.data
        if data[0] is not None or settings.train is None or settings.streaming is False:
            return None
        if file_columns(self.config):  # rows of file paths are small: their files stream
            return None  # (data/files.py), decoded as batches need them
        path = self.base_dir / settings.train
        if path.is_dir() and parquet_files(path) is None:
            return None  # a folder of class subfolders
        text = path.suffix.lower() in TEXT_SUFFIXES and path.is_file()
        files = None if text else TableFiles(path, settings, Path(), file_columns(self.config))
        if settings.streaming == "auto":
            size = 4 * path.stat().st_size if text else files.estimated_bytes()  # as a DataFrame
            if not too_large(size):
                return None
            if not splits_while_streaming(settings.split, given_splits(settings)):
                log(
                    f"note: '{path}' would take about {size / 2**30:.1f} GiB in memory; it is read "
                    "whole because data.split is random: set data.split.by: hash to stream it"
                )
                return None
            log(f"data: '{path}' would take about {size / 2**30:.1f} GiB in memory: streaming it")
        if text:
            cache = run.scratch_dir(self._run_dir)
            files = TableFiles(path, settings, cache, file_columns(self.config))
        return files

    def _prepare_streamed(self, files, saved_run, procs) -> _Prepared:
        """One pass over the streamed training files (every process: the held-out rows and
        the counts; the main one also fits the preprocessing, unless resuming); validation
        and test in memory."""
        from modelyard.data.split import needed_columns
        from modelyard.data.stream import TrainingRows, carve, scan
        from modelyard.models.build import build_losses

        if self.config.data.sampling == "balanced":
            raise UserError(
                "data.sampling: balanced needs the training rows in memory, and this training "
                "data streams (data.streaming); use the output's class_weights instead"
            )
        needed = needed_columns(self.config)
        files.require(needed)
        given = {n: getattr(self.config.data, n) for n in ("validation", "test")}
        split, carved = carve(self.config.data.split, {n for n, v in given.items() if v})
        self.preprocessing = Preprocessing(
            self.config, checkpoint_sources(self.config, self.base_dir)
        )
        if saved_run is not None:
            self.preprocessing.load_state(
                run.read_json(run.model_dir(saved_run) / "preprocessing.json")
            )
        rows = TrainingRows(self.preprocessing, split, carved)
        fit = saved_run is None and procs.is_main
        scanned = scan(files, rows, list(needed), fit=fit)
        self._share_preprocessing(procs)
        read = {name: scanned.held_out.get(name) for name in carved}
        for name in carved:
            if read[name] is None or len(read[name]) == 0:
                read[name] = _no_rows(name, split)
        for name, path in given.items():
            if path:
                read[name] = self._read_given(path)
        self._check_trainable({**read, "train": True})
        tables = {
            name: self.preprocessing.prepare(t, name) for name, t in read.items() if t is not None
        }
        self._log_notes(procs)
        if procs.is_main:
            kept = int(scanned.counts.sum())
            left = ", ".join(f"{n} {r}" for r, n in scanned.left_out.items())
            log(
                f"data: streaming {kept} training rows from '{files.path}' "
                f"({len(files.blocks)} row groups{'; left out: ' + left if left else ''})"
            )
        read["train"] = None
        sources = self._split_sources(None, None, None)
        stream = (files, rows, scanned, list(needed))
        losses = build_losses(self.config, self.preprocessing)
        prepared = _Prepared(read, tables, sources, losses, stream)
        if procs.is_main:
            self._baselines_apply(prepared)  # none for streamed rows: its note
        return prepared

    def _read_given(self, name: str) -> pd.DataFrame:
        return read_data(
            self.base_dir / name,
            file_columns(self.config),
            label_columns(self.config),
            self.config.data,
        )

    def _stream_source(self, stream):
        """The StreamSource of the scanned files: each window's rows prepared, packed and
        split into inputs and targets as the in-memory source holds them."""
        from modelyard.data.augment import build_augmenters
        from modelyard.data.memory import worker_count
        from modelyard.data.stream import StreamSource

        files, rows, scanned, columns = stream
        settings, preprocessing, module, config = (
            self.config.trainer,
            self.preprocessing,
            self.module,
            self.config,
        )

        def to_tensors(frame: pd.DataFrame) -> dict[str, torch.Tensor]:
            table = preprocessing.prepare(frame, "train")
            preprocessing.notes = []
            return {**module.pack(table.tensors), **_targets(table, config)}

        return StreamSource(
            files,
            rows,
            scanned.counts,
            columns,
            to_tensors,
            settings.batch_size,
            settings.seed,
            self.config.data.shuffle_buffer,
            worker_count(self.config.data.workers),
            build_augmenters(self.preprocessing),
        )

    def _epoch_metrics(self) -> tuple[str, ...]:
        """The validation metrics the epoch line shows: those the outputs' tasks name."""
        from modelyard.tasks import task_of

        names = (m for o in self.config.outputs for m in task_of(o).epoch_metrics(o))
        return tuple(dict.fromkeys(names))

    def _train_step(self):
        """The training step of the first output whose task has one of its own (else None)."""
        from modelyard.tasks import task_of

        steps = [task_of(o).train_step(o) for o in self.config.outputs]
        return next((step for step in steps if step is not None), None)

    def _check_trainable(self, tables: dict) -> None:
        """Rules that need the data: validation rows for early stopping, plateau schedules
        and a fairness mitigation (with enough rows per group)."""
        settings = self.config.trainer
        evaluation = self.config.evaluation
        if evaluation is not None and evaluation.mitigation is not None:
            if tables.get("validation") is None:
                raise UserError(
                    "evaluation.mitigation is fitted on validation rows, but the data has none; set data.validation or data.split.validation"
                )
            from modelyard import fairness

            data = self.config.data
            where = str(data.validation or data.train or "the validation DataFrame")
            fairness.check_groups(tables["validation"], evaluation, where)
        if tables.get("validation") is None:
            if early_stopping_chosen(settings):
                raise UserError(
                    "trainer.early_stopping needs validation rows, but the data has none; set data.validation or data.split"
                )
            if settings.schedule.type == "plateau":
                raise UserError(
                    "trainer.schedule plateau needs validation rows, but the data has none; set data.validation or data.split"
                )

    def _resolved_config(self, train: DataArg, validation: DataArg, test: DataArg) -> Config:
        """The config with `data.split` as this fit really splits (data/split.resolve_split)."""
        written = self._written_config
        if train is None:
            return with_resolved_split(written, given_splits(written.data))
        given = {"train": train, "validation": validation, "test": test}
        return with_resolved_split(written, {k for k, v in given.items() if v is not None})

    def _read_splits(
        self, train: DataArg, validation: DataArg, test: DataArg
    ) -> dict[str, pd.DataFrame | None]:
        if train is None:
            return read_config_data(self.config, self.base_dir)
        given = {"train": train, "validation": validation, "test": test}
        tables = {k: (self._as_frame(v) if v is not None else None) for k, v in given.items()}
        return split_tables(tables, self.config.data.split)

    def _fit_preprocessing(self, train: pd.DataFrame, saved_run: Path | None, procs) -> None:
        """Fit on the training split (rank 0), or reload the run's own state when resuming."""
        self.preprocessing = Preprocessing(
            self.config, checkpoint_sources(self.config, self.base_dir)
        )
        if saved_run is not None:
            self.preprocessing.load_state(
                run.read_json(run.model_dir(saved_run) / "preprocessing.json")
            )
            return
        if procs.is_main:
            self.preprocessing.fit(train)
        self._share_preprocessing(procs)

    def _share_preprocessing(self, procs) -> None:
        """Under torchrun: the main process's fitted preprocessing, to every process."""
        if procs.world > 1:
            import torch.distributed as dist

            box = [self.preprocessing.state() if procs.is_main else None]
            dist.broadcast_object_list(box, src=0)
            if not procs.is_main:
                self.preprocessing.load_state(box[0])

    def _final_metrics(self, prepared: _Prepared, device: torch.device) -> dict[str, Any]:
        from modelyard.evaluate import row_counts, score

        details: dict[str, Any] = {}
        self.mitigation = None
        for split in ("validation", "test"):  # one split's outputs in memory at a time
            table = prepared.tables.get(split)
            if table is None:
                continue
            outputs = self._infer(table, device)
            if split == "validation":
                self._fit_mitigation(prepared, outputs)  # before scoring: it moves decisions
            found, details[split] = score(self.preprocessing, outputs, table, prepared.losses)
            found.update(self._fairness(outputs, table, prepared.sources[split], details[split]))
            self.metrics[split] = {**found, **row_counts(self.preprocessing, table)}
            del outputs  # before the next split's inference, not after it
        if self.privacy_spent is not None:  # trainer.privacy (train/privacy.py)
            from modelyard.train.privacy import summary

            self.metrics["privacy"] = summary(self.privacy_spent)
            log(
                f"privacy: epsilon {self.metrics['privacy']['epsilon']:.3f} spent at delta "
                f"{self.metrics['privacy']['delta']:g}"
            )
        self._baselines(prepared)
        return details

    def _fit_mitigation(self, prepared: _Prepared, outputs) -> None:
        """self.mitigation: evaluation.mitigation's thresholds, fitted on the validation rows."""
        evaluation = self.config.evaluation
        self.mitigation = None
        if evaluation is None or evaluation.mitigation is None:
            return
        from modelyard import fairness

        table, where = prepared.tables["validation"], prepared.sources["validation"]
        self.mitigation = fairness.fit_mitigation(
            self.preprocessing, outputs, table, evaluation, where
        )

    def _fairness(self, outputs, table: Table, where: str, details: dict | None = None):
        """evaluation.sensitive's per-group metrics (flat; {} without an evaluation section),
        their report details added to `details` ({output: details})."""
        if self.config.evaluation is None:
            return {}
        from modelyard import fairness

        found, per_output = fairness.evaluate(
            self.preprocessing, outputs, table, self.config.evaluation, self.mitigation, where
        )
        for name, detail in per_output.items():
            if details is not None and isinstance(details.get(name), dict):
                details[name]["fairness"] = detail
        return found

    def _baselines_apply(self, prepared: _Prepared) -> bool:
        """Whether this run fits baselines (`baselines: true` and a model they apply to); a
        note says why not where they do not apply."""
        from modelyard import baselines

        if not self.config.baselines:
            return False
        reason = baselines.skip_reason(self.preprocessing)
        if reason is None and prepared.stream is not None:
            reason = "no baselines for streamed training rows (they are not in memory)"
        if reason is None and self.config.trainer.privacy is not None:
            reason = (
                "no baselines under trainer.privacy (they would learn from the training rows "
                "without it, and their metrics would tell about them)"
            )
        if reason is not None:
            log(f"note: {reason}")
        return reason is None

    def _baselines(self, prepared: _Prepared) -> None:
        """metrics["baselines"] (modelyard.baselines), fitted while the model trained, with a
        log line per baseline."""
        from modelyard import baselines

        if prepared.baselines is None:
            return
        try:
            predictions = baselines.collect(self.preprocessing, prepared.baselines.result())
        except Exception as error:  # their process died (memory?): the trained model stands
            log(f"note: the baselines failed ({type(error).__name__}: {error}); none recorded")
            return
        found = baselines.score_baselines(
            self.preprocessing, predictions, prepared.tables, prepared.losses
        )
        self.metrics["baselines"] = found
        for line in baselines.log_lines(self.config, self.metrics):
            log(line)

    def _lazy_files(self, frames: list[pd.DataFrame], procs=None) -> bool:
        """Whether image and audio inputs stay files, decoded batch by batch as needed
        (data.streaming; data/files.py); under torchrun, rank 0's decision."""
        from modelyard.data.files import streams_files

        lazy = streams_files(self.preprocessing, self.config.data, frames)
        return distributed.broadcast_flag(lazy, procs) if procs is not None else lazy

    def _log_notes(self, procs: distributed.Processes | None = None) -> None:
        if procs is None or procs.is_main:
            for note in dict.fromkeys(self.preprocessing.notes):
                log(f"preprocessing: {note}")
        self.preprocessing.notes = []

    def _save_start(self, run_dir: Path, prepared: _Prepared) -> None:
        run.write_config(run_dir, self.config)
        self.save(run_dir / run.MODEL_DIR, weights=False)
        streamed = None
        if prepared.stream is not None:
            counts = prepared.stream[2].counts
            streamed = {
                "train": {
                    "rows": "streamed: every row not in validation or test, less those left out",
                    "kept": int(counts.sum()),
                    "left_out": prepared.stream[2].left_out,
                }
            }
        run.write_splits(run_dir, prepared.read, prepared.sources, streamed)
        self._write_data_summary(run_dir, prepared)

    def _write_data_summary(self, run_dir: Path, prepared: _Prepared) -> None:
        """data_summary.json (data/summary.py), which the report shows."""
        from modelyard.data.summary import data_summary

        streamed = None
        if prepared.stream is not None:
            scanned = prepared.stream[2]
            streamed = {"rows": int(scanned.counts.sum()), "left_out": scanned.left_out}
        found = data_summary(self.preprocessing, prepared.tables, streamed)
        run.write_json(run_dir / run.DATA_SUMMARY, found)

    def _split_sources(self, train: DataArg, validation: DataArg, test: DataArg) -> dict[str, str]:
        """splits.json's `table` of each split: its own file or DataFrame, else the training one."""
        given = {"train": train, "validation": validation, "test": test}
        if train is None:
            given = {name: getattr(self.config.data, name) for name in given}
        names = {
            name: (f"the {name} DataFrame given to fit()" if isinstance(v, pd.DataFrame) else v)
            for name, v in given.items()
            if v is not None
        }
        return {name: str(names.get(name, names["train"])) for name in given}

    # ------------------------------------------------------------ applying

    def predict(
        self, data: pd.DataFrame | str | Path, ids: bool = True, include_inputs: bool = False
    ) -> pd.DataFrame:
        """Id columns (unless `ids=False`), then prediction columns; one row per input row, in
        order (with an evaluation.mitigation, `<output>_prediction` is its decision and the
        model's own is `<output>_prediction_unmitigated`; `data` needs the sensitive
        columns). From a folder of files, the file path is the id. `include_inputs`: the model's
        input columns (image and audio inputs: their path columns) and the label columns the
        data has, as read, come between them (`_copied_inputs`)."""
        from modelyard.evaluate import prediction_columns

        self._require_trained()
        frame = self._as_frame(data)
        wanted = list(self.config.data.id_columns) if ids else []
        if ids and not isinstance(data, pd.DataFrame) and Path(data).is_dir():
            outputs = label_columns(self.config)  # a mask output's files are not in the folder
            wanted = [c for c in file_columns(self.config) if c not in outputs]
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            raise UserError(
                f"id column '{missing[0]}' (data.id_columns) is not in the data{column_hint(missing[0], frame.columns)}"
            )
        lazy = self._lazy_files([frame])
        table = self.preprocessing.prepare(frame, "predict", labels=False, lazy_files=lazy)
        self._log_notes()
        outputs = self._infer(table)
        predictions = prediction_columns(self.preprocessing, outputs)
        if self.mitigation is not None:  # evaluation.mitigation's thresholds per group
            from modelyard import fairness

            predictions = fairness.apply(
                self.preprocessing, outputs, table.frame, self.mitigation, predictions
            )
        given = table.frame[wanted]
        if include_inputs:
            given = _copied_inputs(self.config, table.frame, wanted, predictions.columns)
        result = pd.concat([given.reset_index(drop=True), predictions], axis=1)
        result.index = table.frame.index  # the input's own index: assigning a column back aligns
        return result

    def prediction_files(self, predictions: pd.DataFrame, out: Path) -> pd.DataFrame:
        """`predictions` as `predict --out` writes them to `out`: each output's task may keep
        its predictions as files beside it (masks as PNG) and the table their paths."""
        from modelyard.tasks import task_of

        for feature in self.preprocessing.outputs:
            predictions = task_of(feature).prediction_files(feature, predictions, out)
        return predictions

    def evaluate(self, data: pd.DataFrame | str | Path) -> dict[str, Any]:
        """Metrics on labelled data, with `rows` evaluated and `rows_left_out` (rows without a
        label, per data.missing_labels); classes unseen in training count as errors."""
        from modelyard.evaluate import row_counts, score
        from modelyard.models.build import build_losses

        self._require_trained()
        frame = self._as_frame(data)
        table = self.preprocessing.prepare(frame, "evaluate", lazy_files=self._lazy_files([frame]))
        self._log_notes()
        outputs = self._infer(table)
        losses = build_losses(self.config, self.preprocessing)
        found = score(self.preprocessing, outputs, table, losses)[0]
        where = "the DataFrame given" if isinstance(data, pd.DataFrame) else str(data)
        found.update(self._fairness(outputs, table, where))
        return {**found, **row_counts(self.preprocessing, table)}

    def require(self, capability: str, tool: str) -> None:
        """A UserError naming the outputs whose tasks do not support `capability`
        (`modelyard.tasks.CAPABILITIES`), for `tool` (what the user ran, e.g. "explain" or
        "--method distill")."""
        from modelyard.tasks import registered, task_of

        if self.config.model_type == "gbdt":
            from modelyard.models import gbdt

            gbdt.require(capability, tool)
        lacking = [o for o in self.config.outputs if not task_of(o).supports(capability)]
        if lacking:
            able = [t.type for t in registered() if t.supports(capability)]
            names = ", ".join(f"'{o.name}' ({o.type})" for o in lacking)
            raise UserError(
                f"{tool} does not support this model's output {names} yet; it supports "
                f"{', '.join(able)} outputs"
            )

    def generate(self, prompt: str, **options) -> str:
        raise UserError(
            "this model predicts its outputs from inputs; generate needs a causal language model (task: language_model, model.architecture: gpt2)"
        )

    def _as_frame(self, data: pd.DataFrame | str | Path) -> pd.DataFrame:
        if isinstance(data, pd.DataFrame):
            if len(data) == 0:
                raise UserError("the DataFrame has no rows")
            return data
        return read_data(
            Path(data), file_columns(self.config), label_columns(self.config), self.config.data
        )

    def _infer(self, table: Table, device: torch.device | None = None) -> dict[str, torch.Tensor]:
        """The model's outputs for a prepared table, computed in fp32 on `device` (where the
        module is; default the CPU), returned on the CPU; what tasks keep of them
        (`Task.compact`: a segmenter's class per pixel, not its scores)."""
        from modelyard.evaluate import compactor, infer

        return infer(
            self.module,
            self._inputs(table),
            device or torch.device("cpu"),
            False,
            self.config.trainer.eval_batch_size,
            compactor(self.preprocessing, table),
        )

    def _inputs(self, table: Table) -> dict[str, torch.Tensor] | LazyInputs:
        """The model's inputs for a prepared table (passthrough columns stacked); image and
        audio files it left undecoded are decoded batch by batch as `evaluate.infer` runs."""
        if table.lazy:  # data/files.py
            from modelyard.data.files import LazyInputs

            names = [f.name for f in self.preprocessing.inputs]
            return LazyInputs(table, self.module.pack, names, self.config.data.workers)
        return self.module.pack(table.tensors)

    def _require_trained(self) -> None:
        if self.module is None or self.preprocessing is None:
            raise UserError("the model is not trained yet; call fit() or Model.load(run_dir)")

    # ------------------------------------------------------------ saving

    def save(self, directory: str | Path, weights: bool = True) -> None:
        """Write modelyard.json, preprocessing.json, meta.json and weights.safetensors to
        `directory` (and fairness.json: an evaluation.mitigation's thresholds)."""
        import modelyard

        if self.preprocessing is None:
            raise UserError(
                "the model is not trained yet, so there is nothing to save; call fit() first"
            )
        meta = {
            "modelyard_version": modelyard.__version__,
            "torch_version": torch.__version__,
            "inputs": [
                {"name": f.name, "type": f.type, "column": f.column or f.name}
                for f in self.config.inputs
            ],
            "outputs": [
                {"name": f.name, "type": f.type, "column": f.column or f.name}
                for f in self.config.outputs
            ],
        }
        state = self.state_tensors() if (weights and self.module is not None) else None
        quantized = state is not None and self._quantized()
        if self.module is not None and not self._quantized():
            from modelyard.models.size import model_size

            meta["parameters"] = model_size(self.module, state)
        if self.config.model_type != "gbdt" and self.config.trainer.privacy is not None:
            meta["privacy"] = {"replaced_layers": self.privacy_notes}
        if state is not None and not quantized:  # stored once, in backbones/
            state = {k: v for k, v in state.items() if not k.startswith(self._exported_prefixes())}
        run.save_model(
            Path(directory),
            self.config.model_dump(mode="json"),
            self.preprocessing.state(),
            state,
            meta,
        )
        if self.mitigation is not None:
            from modelyard.fairness import FILE

            run.write_json(Path(directory) / FILE, self.mitigation)
        if quantized:
            from modelyard.compress import quantize

            run.write_json(Path(directory) / quantize.RECORD_FILE, quantize.describe(self.module))
        elif state is not None:
            self._export_backbones(Path(directory) / BACKBONES)
            if self.config.model_type == "gbdt":  # its estimators (models/gbdt.py)
                from modelyard.models import gbdt

                self.module.save(Path(directory) / gbdt.FILE)
            run.share_files(Path(directory))

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The weights as plain tensors (what weights.safetensors holds): the state dict, or for
        a model quantized by `modelyard compress` its int8 weights with their scales."""
        if not self._quantized():
            return self.module.state_dict()
        from modelyard.compress import quantize

        if pretrained_inputs(self.config):
            raise UserError(
                "a quantized model with a pretrained text encoder is saved only by `modelyard compress`; "
                "use the run directory it wrote"
            )
        return {k: v.detach().contiguous() for k, v in quantize.state_tensors(self.module).items()}

    def _quantized(self) -> bool:
        return any(
            type(m).__module__.startswith("torch.ao.nn.quantized") for m in self.module.modules()
        )

    def _exported_prefixes(self) -> tuple[str, ...]:
        """State-dict prefixes of the backbones that backbones/<input>/ holds exactly (not
        those with LoRA adapters: their files are merged). weights.safetensors leaves them out;
        `load` builds them from backbones/."""
        prefixes = []
        for f in pretrained_inputs(self.config):
            index = self.module.input_names.index(f.name)
            if not hasattr(self.module.encoders[index].backbone, "merge_and_unload"):
                prefixes.append(f"encoders.{index}.backbone.")
        return tuple(prefixes)

    def _export_backbones(self, folder: Path) -> None:
        """Each fine-tuned pretrained backbone and its tokenizer, loadable by transformers itself."""
        for f in pretrained_inputs(self.config):
            encoder = self.module.encoders[self.module.input_names.index(f.name)]
            encoder.export(folder / f.name)
            feature = next(p for p in self.preprocessing.inputs if p.name == f.name)
            feature.tokenizer.save_pretrained(str(folder / f.name))

    @classmethod
    def load(cls, directory: str | Path) -> Model:
        """From a run directory or a saved model folder."""
        from safetensors.torch import load_file

        from modelyard.models.build import build_model

        folder = run.model_dir(Path(directory))
        config = validate(run.read_json(folder / run.CONFIG_FILE), str(folder / run.CONFIG_FILE))
        if config.task in KINDS:
            return kind_class(config.task).load(folder)
        model = cls(config)
        sources = {f.name: folder / BACKBONES / f.name for f in pretrained_inputs(model.config)}
        model.preprocessing = Preprocessing(model.config, sources)
        for feature in model.preprocessing.inputs:
            feature.saved = True
        model.preprocessing.load_state(run.read_json(folder / "preprocessing.json"))
        model.module = build_model(model.config, model.preprocessing, model.privacy_notes)
        weights = folder / "weights.safetensors"
        if not weights.is_file():
            raise UserError(
                f"'{folder}' has no weights.safetensors; the training did not finish (resume it: fit(output_dir=..., resume=True) / modelyard train --resume)"
            )
        if (folder / "quantization.json").is_file():  # `modelyard compress --method quantize`
            from modelyard.compress.quantize import load_quantized

            model.module = load_quantized(model.module, load_file(str(weights)))
        else:
            _load_weights(model.module, load_file(str(weights)), model._exported_prefixes())
        if config.model_type == "gbdt":  # executes its pickle (models/gbdt.py)
            from modelyard.models import gbdt

            model.module.load(folder / gbdt.FILE)
        model.module.eval()
        if (folder / "fairness.json").is_file():  # evaluation.mitigation (modelyard.fairness)
            model.mitigation = run.read_json(folder / "fairness.json")
        metrics_file = folder.parent / "metrics.json"
        model.metrics = run.read_json(metrics_file) if metrics_file.is_file() else {}
        return model


def _load_weights(module: torch.nn.Module, weights: dict, from_backbones: tuple[str, ...]) -> None:
    """weights.safetensors into `module`; tensors under `from_backbones` may be absent (the
    backbones were built from backbones/; runs before this saved them twice)."""
    missing, unexpected = module.load_state_dict(weights, strict=False)
    if unexpected or any(not k.startswith(from_backbones) for k in missing):
        module.load_state_dict(weights)  # raises, naming the keys


def _copied_inputs(config: Config, frame: pd.DataFrame, ids: list[str], taken) -> pd.DataFrame:
    """The id columns, then the input and label columns of `frame` in its own order, for
    `predict(include_inputs=True)`. Prediction columns keep their names: a copied column
    named like one (`taken`) gets `_input` appended."""
    features = [*config.inputs, *config.outputs]
    columns = {f.column or f.name for f in features}
    copied = [c for c in frame.columns if c in columns and c not in ids]
    names, used = {}, {*ids, *copied, *taken}
    for column in copied:
        if column in taken:
            name = f"{column}_input"
            while name in used:
                name += "_input"
            names[column] = name
            used.add(name)
            log(
                f"note: input column '{column}' is '{name}' in the predictions (a prediction column has its name)"
            )
    return frame[ids + copied].rename(columns=names)


def _no_rows(split_name: str, split) -> None:
    """A split carved from streamed rows that got none: nothing for a split column (as in
    memory), the user's error for a hash split."""
    if split.column is not None:
        return None
    raise UserError(
        f"data.split by: hash gave no {split_name} rows from the streamed training data; "
        f"use a larger data.split.{split_name}"
    )


def _targets(table: Table, config: Config) -> dict[str, torch.Tensor]:
    return {f.name: table.tensors[f.name] for f in config.outputs}
