"""k-fold cross-validation: `cross_validate(config, folds=5)` / `modelyard cv CONFIG`.

    DIR/folds.csv                row, repeat, fold: the held-out rows of every fold
    DIR/cv_settings.json         the folds' settings and the data's SHA-256, for resuming
    DIR/fold_1 ... fold_K        one ordinary run directory per fold (repeat_R/fold_K with
                                 repeats), its held-out rows as its test split
    DIR/cv.csv, DIR/cv.json      per-fold held-out metrics, their mean and standard deviation
    DIR/report.html              the summary

Rows, folds and what each fold trains on: cv/rows.py and cv/folds.py. A killed
cross-validation run again into the same DIR skips the folds that finished (after checking
that their config is the one this run would train) and resumes the one that has a checkpoint.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.errors import UserError
from modelyard.train.progress import log

FOLDS_FILE = "folds.csv"
SETTINGS_FILE = "cv_settings.json"  # written first: what a resume must match


@dataclass
class CrossValidation:
    """The result: `folds` one dict per fold (repeat, fold, train_rows, held_out_rows and its
    held-out metrics); `mean` and `std` per metric (std: numpy's, ddof=0, as
    `cross_val_score(...).std()`); `settings` how the folds were made."""

    folds: list[dict[str, Any]]
    settings: dict[str, Any]
    output_dir: Path | None = None
    mean: dict[str, float] = field(default_factory=dict)
    std: dict[str, float] = field(default_factory=dict)


def cross_validate(
    config: str | Path | dict[str, Any],
    folds: int = 5,
    *,
    stratify: bool = False,
    group: str | None = None,
    repeats: int = 1,
    output_dir: str | Path | None = None,
    overrides: list[str] = (),
    overwrite: bool = False,
) -> CrossValidation:
    """Train one model per fold on the config's data (a YAML path or a dict; `overrides` are
    `KEY=VALUE` strings) and score it on the fold's held-out rows. With `output_dir`, one run
    directory per fold plus the summary files; a second call on the same `output_dir` skips
    the folds that finished (`overwrite`: start again)."""
    from modelyard.config import load_config
    from modelyard.cv import summary
    from modelyard.cv.folds import fold_indices, folds_frame
    from modelyard.cv.rows import cv_rows, stratify_column

    written, base = load_config(config, list(overrides))
    if written.task != "supervised":
        raise UserError(
            f"cv trains models of inputs and outputs; this config's task is '{written.task}', "
            "which splits its data its own way"
        )
    rows, fold_config = cv_rows(written, base)
    column = stratify_column(written) if stratify else None
    seed = written.data.split.seed
    found = fold_indices(rows, folds, repeats, seed, column, group)
    settings = {
        "folds": folds,
        "repeats": repeats,
        "seed": seed,
        "stratify": column,
        "group": group,
        "rows": len(rows),
        "data_sha256": _fingerprint(rows),
    }
    directory = Path(output_dir) if output_dir is not None else None
    if directory is not None:
        _open_directory(directory, folds_frame(found), settings, overwrite)
    result = CrossValidation([], settings, directory)
    for fold in found:
        run_dir = directory / fold.name(repeats) if directory is not None else None
        metrics = _fold_metrics(fold_config, base, rows, fold, run_dir, len(found), repeats)
        result.folds.append(metrics)
    result.mean, result.std = summary.aggregate(result.folds)
    if directory is not None:
        summary.write(result)
    return result


def _fingerprint(rows) -> str:
    """SHA-256 of the rows' values (pandas' row hashes): a resume on changed data is refused."""
    import hashlib

    import pandas as pd

    hashed = pd.util.hash_pandas_object(rows, index=True).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def _open_directory(directory: Path, folds, settings: dict, overwrite: bool) -> None:
    """Create `directory` with folds.csv and cv_settings.json, or check that the ones there
    are this run's (a resume); `overwrite` empties a cross-validation directory first."""
    import pandas as pd

    from modelyard import run

    saved = directory / FOLDS_FILE
    if directory.exists() and any(directory.iterdir()):
        if not saved.is_file():
            raise UserError(
                f"'{directory}' exists and is not a cross-validation directory (no {FOLDS_FILE}); "
                "choose another --output"
            )
        if overwrite:
            shutil.rmtree(directory)
        elif _saved_settings(directory) != settings or not pd.read_csv(saved).equals(folds):
            raise UserError(
                f"'{directory}' holds a cross-validation of other data or other folds "
                "(another seed, --folds, --repeats, --stratify or --group); pass --overwrite "
                "to start again, or choose another --output"
            )
        else:
            log(f"cv: continuing the cross-validation in '{directory}'")
            return
    directory.mkdir(parents=True, exist_ok=True)
    run.write_json(directory / SETTINGS_FILE, settings)
    folds.to_csv(saved, index=False)


def _saved_settings(directory: Path) -> dict | None:
    path = directory / SETTINGS_FILE
    return _read_json(path) if path.is_file() else None


def _fold_metrics(config, base, rows, fold, run_dir, total, repeats) -> dict[str, Any]:
    """Train one fold (or read the metrics of its finished run) -> its summary record."""
    from modelyard.api import Model
    from modelyard.cv.folds import training_rows

    train = rows.iloc[training_rows(len(rows), fold)]
    held_out = rows.iloc[fold.held_out]
    record = {
        "repeat": fold.repeat,
        "fold": fold.fold,
        "train_rows": len(train),
        "held_out_rows": len(held_out),
    }
    where = f"fold {fold.fold}" + (f" of repeat {fold.repeat}" if repeats > 1 else "")
    if run_dir is not None and _finished(run_dir):
        _require_same_config(run_dir, config, fold.name(repeats))
        log(f"cv: {where} finished before; its metrics are read from '{run_dir}'")
        return {**record, **_scores(_read_json(run_dir / "metrics.json").get("test", {}))}
    log(
        f"cv: {where} ({total} folds in all): {len(train)} rows to train on, {len(held_out)} held out"
    )
    resume = run_dir is not None and _has_checkpoint(run_dir)
    if resume:
        log(f"cv: {where} continues from its checkpoint in '{run_dir}'")
    model = Model(config, base).fit(
        train, test=held_out, output_dir=run_dir, resume=resume, overwrite=not resume
    )
    return {**record, **_scores(model.metrics.get("test", {}))}


def _scores(metrics: dict[str, Any]) -> dict[str, float]:
    """The numbers of a split's metrics, without its row counts (`rows`, `label.rows`,
    `rows_unseen_class` ...)."""
    return {
        name: float(value)
        for name, value in metrics.items()
        if not name.rpartition(".")[2].startswith("rows")
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    }


def _finished(run_dir: Path) -> bool:
    return (run_dir / "metrics.json").is_file() and (run_dir / "report.html").is_file()


def _has_checkpoint(run_dir: Path) -> bool:
    from modelyard import run

    return (run_dir / run.CHECKPOINT).is_file() or (run_dir / run.PREVIOUS_CHECKPOINT).is_file()


def _read_json(path: Path) -> dict:
    from modelyard import run

    return run.read_json(path)


def _require_same_config(run_dir: Path, config, name: str) -> None:
    """A finished fold counts only if it trained with the config this run would use."""
    import yaml

    from modelyard.compare import differing_keys
    from modelyard.data.split import with_resolved_split

    resolved = with_resolved_split(config, {"train", "test"}).model_dump(mode="json")
    saved = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    keys = differing_keys([saved, resolved])
    if keys:
        shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
        raise UserError(
            f"{name} of the cross-validation ('{run_dir}') was trained with another config (it differs at "
            f"{shown}); pass --overwrite to start the cross-validation again, or choose "
            "another --output"
        )
