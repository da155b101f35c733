"""The run directory: what a run leaves behind, and the saved model (safetensors + JSON, nothing
pickled, except a `model_type: gbdt` run's scikit-learn estimators: models/gbdt.py).

<run>/config.yaml         resolved config, defaults filled in
<run>/metrics.json        {"validation": {...}, "test": {...}}
<run>/history.csv         one row per epoch, rewritten after each (a killed run keeps it)
<run>/report.html
<run>/splits.json        which rows of which table went to train, validation and test
<run>/data_summary.json  rows per split and left out, class balance, missing values filled
<run>/checkpoints/last.pt for --resume (and previous.pt, the one before, in case last.pt is
                          damaged); removed when the run finishes unless trainer.keep_checkpoints: last;
                          with trainer.strategy fsdp, the shards-E-S/ folders they name (DCP)
<run>/model/              modelyard.json (resolved config), preprocessing.json, weights.safetensors, meta.json
                          (a gbdt run: gbdt.pkl, its estimators, and weights.safetensors empty)

`--overwrite` of an existing run trains into `<run>.incomplete` beside it and replaces the old
run only once the new one has finished; a failure leaves the old run untouched.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from modelyard.errors import UserError
from modelyard.train.progress import log

MODEL_DIR = "model"
HISTORY_FILE = "history.csv"
CHECKPOINT = Path("checkpoints") / "last.pt"
PREVIOUS_CHECKPOINT = Path("checkpoints") / "previous.pt"
STAGING = ".incomplete"  # suffix of the sibling folder an --overwrite trains into
# Settings a resumed run may change (everything else must match the config it started with).
RESUMABLE_CHANGES = ("trainer.epochs", "trainer.keep", "trainer.keep_checkpoints")
DATA_SUMMARY = "data_summary.json"
CONFIG_FILE = "modelyard.json"  # not config.json: a Hugging Face checkpoint may share the folder


def check(run_dir: Path, resume: bool, overwrite: bool) -> None:
    """Raise UserError unless `prepare` may go ahead. Changes nothing (safe on every process).

    `--overwrite` only ever deletes a folder that is a modelyard run (config.yaml plus model/
    or checkpoints/), and never one that holds the current directory.
    """
    exists = _exists(run_dir)
    if resume:
        if not (run_dir / CHECKPOINT).is_file() and not (run_dir / PREVIOUS_CHECKPOINT).is_file():
            finished = (run_dir / MODEL_DIR / "weights.safetensors").is_file()
            why = (
                " (a finished run keeps its checkpoint only with trainer.keep_checkpoints: last)"
                if finished
                else ""
            )
            raise UserError(
                f"cannot resume (resume=True / --resume): '{run_dir}' has no checkpoint ({CHECKPOINT}){why}, so there is nothing to continue; start it again (overwrite=True / --overwrite)"
            )
        return
    if exists and not overwrite:
        raise UserError(
            f"run directory '{run_dir}' already exists; continue it (resume=True / --resume), replace it (overwrite=True / --overwrite), or choose another (output_dir / --output)"
        )
    if exists and (not is_run(run_dir) or Path.cwd().resolve().is_relative_to(run_dir.resolve())):
        raise UserError(
            f"cannot overwrite (overwrite=True / --overwrite): '{run_dir}' is not a modelyard run directory (or holds the current one); refusing to delete it; choose another (output_dir / --output)"
        )


@contextlib.contextmanager
def session(
    target: Path | None, resume: bool, overwrite: bool, config, procs
) -> Iterator[Path | None]:
    """Yield the directory to write the run into (None without `target`): `target` itself,
    or for an --overwrite of an existing run its `.incomplete` sibling, which replaces
    `target` only when training has finished. On failure that sibling is removed and
    `target` stays as it was. Every process gets the same directory; only rank 0 writes."""
    from modelyard.train import distributed

    if target is None:
        yield None
        return
    work = start(target, resume, overwrite, config, procs)
    try:
        yield work
    except BaseException:
        if work != target and procs.is_main:
            shutil.rmtree(work, ignore_errors=True)
            log(f"note: training failed; the previous run in '{target}' is kept as it was")
        raise
    if procs.is_main:
        finish(work, target, config.trainer.keep_checkpoints)
    distributed.barrier(procs)


def start(run_dir: Path, resume: bool, overwrite: bool, config, procs) -> Path:
    """Before training: every process checks (so all fail alike), then rank 0 prepares.
    Returns the directory to train into (see `session`)."""
    from modelyard.train import distributed

    check(run_dir, resume, overwrite)
    if resume:
        check_resumable(run_dir, config.model_dump(mode="json"))
    work = staging(run_dir) if overwrite and not resume and _exists(run_dir) else run_dir
    distributed.barrier(procs)
    if procs.is_main:
        prepare(work, resume)
        if work != run_dir:
            log(f"training into '{work}'; it replaces '{run_dir}' once training has finished")
    distributed.barrier(procs)
    return work


def scratch_dir(run_dir: Path | None) -> Path:
    """Where a run keeps data of its own while it trains (a streamed CSV file's Parquet copy):
    beside its checkpoints, so that a resume finds it, and removed with them; a temporary
    folder for a fit without a run directory."""
    if run_dir is None:
        import tempfile

        return Path(tempfile.mkdtemp(prefix="modelyard-"))
    return run_dir / CHECKPOINT.parent / "data"


def staging(run_dir: Path) -> Path:
    return run_dir.with_name(run_dir.name + STAGING)


def final_dir(work: Path) -> Path:
    """The run directory that `work` becomes once training has finished."""
    return work.with_name(work.name.removesuffix(STAGING))


def prepare(run_dir: Path, resume: bool, overwrite: bool = False) -> None:
    """Create the directory to write into; with `overwrite` (and for a stale `.incomplete`
    one, left by a killed --overwrite), empty it first, but only if it is a modelyard run."""
    if resume:
        return
    check(run_dir, resume, overwrite or run_dir.name.endswith(STAGING))
    if _exists(run_dir):
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)


def finish(work: Path, target: Path, keep_checkpoints: str) -> None:
    """After a successful run: prune checkpoints/ as `keep_checkpoints` says, then put the
    run in `work` in place of `target` (renames on one file system: no copy)."""
    folder = work / CHECKPOINT.parent
    if keep_checkpoints == "none":
        shutil.rmtree(folder, ignore_errors=True)
    else:
        from modelyard.train.checkpoint import prune_shards

        (work / PREVIOUS_CHECKPOINT).unlink(missing_ok=True)
        shutil.rmtree(scratch_dir(work), ignore_errors=True)
        prune_shards(work / CHECKPOINT)  # a sharded checkpoint's folder goes with previous.pt
    if work == target:
        return
    old = target.with_name(f".{target.name}.replaced")
    if old.exists():
        shutil.rmtree(old)
    target.rename(old)
    work.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _exists(path: Path) -> bool:
    return path.exists() and any(path.iterdir())


def check_resumable(run_dir: Path, resolved: dict) -> None:
    """A resumed run must use the config it started with (only trainer.epochs may change,
    and what the run keeps at its end)."""
    import yaml

    saved = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    differences = [p for p in _differences(saved, resolved) if p not in RESUMABLE_CHANGES]
    if differences:
        raise UserError(
            f"cannot resume (resume=True / --resume): the config differs from the one '{run_dir}' was started with at {', '.join(differences)}; only trainer.epochs may change (and trainer.keep, trainer.keep_checkpoints), or start again (overwrite=True / --overwrite)"
        )


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            d
            for k in sorted(set(a) | set(b))
            for d in _differences(a.get(k), b.get(k), f"{path}.{k}" if path else k)
        ]
    if isinstance(a, list | tuple) and isinstance(b, list | tuple) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [path or "(top level)"]


def is_run(path: Path) -> bool:
    return (path / "config.yaml").is_file() and (
        (path / MODEL_DIR).is_dir() or (path / "checkpoints").is_dir()
    )


def model_dir(path: Path) -> Path:
    """Accept a run directory or its model/ folder."""
    if (path / MODEL_DIR / CONFIG_FILE).is_file():
        return path / MODEL_DIR
    if (path / CONFIG_FILE).is_file():
        return path
    if not path.exists():
        raise UserError(f"run directory '{path}' does not exist")
    raise UserError(
        f"'{path}' holds no saved model (expected {path}/{MODEL_DIR}/{CONFIG_FILE}); is the training finished?"
    )


def write_json(path: Path, data: Any, indent: int | None = 2) -> None:
    """Strict JSON (what JavaScript's JSON.parse accepts): NaN and infinities become null."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    text = json.dumps(_finite(data), indent=indent, default=_plain, allow_nan=False)
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(path)


def _plain(value: Any) -> Any:
    """numpy scalars (a NaN one as null); anything else JSON lacks as its text."""
    if hasattr(value, "item"):
        return _finite(value.item())
    return str(value)


def _finite(data: Any) -> Any:
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(v) for v in data]
    return data


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(
            f"'{path}' cannot be read ({e}); the saved model is incomplete or damaged"
        ) from None


def write_history(path: Path, history: list[dict[str, float]]) -> None:
    """One row per epoch, after every epoch: the newest row appended where the file holds
    exactly the epochs before it under the same columns (an epoch costs a row, not the whole
    file again: 300 epochs cost 300 rows, not 45,000), else the file replaced whole, never
    seen half-written (a resumed or finished run, new columns)."""
    columns = list(dict.fromkeys(k for row in history for k in row))
    if history and _holds_rows(path, columns, len(history) - 1):
        with path.open("a", newline="", encoding="utf-8") as f:
            csv.DictWriter(f, fieldnames=columns).writerow(history[-1])
        return
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(history)
    os.replace(tmp, path)


def _holds_rows(path: Path, columns: list[str], rows: int) -> bool:
    """Whether the history file has `columns` as its header and `rows` whole rows."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    lines = text.splitlines()
    whole = text.endswith("\n") or not text
    return whole and bool(lines) and lines[0] == ",".join(columns) and len(lines) - 1 == rows


def save_model(
    directory: Path, config_json: dict, preprocessing_state: dict, weights: dict | None, meta: dict
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    write_json(directory / CONFIG_FILE, config_json)
    write_json(directory / "preprocessing.json", preprocessing_state)
    write_json(directory / "meta.json", meta)
    if weights is not None:
        from safetensors.torch import save_file

        save_file(
            {k: v.detach().cpu().contiguous() for k, v in weights.items()},
            str(directory / "weights.safetensors"),
        )
    share_files(directory)


def save_hf_checkpoint(folder: Path, module, tokenizer, config, meta: dict) -> None:
    """A Hugging Face checkpoint (weights, config, tokenizer) that `transformers` loads as it
    is, plus modelyard.json (the resolved `config`) and meta.json (versions and `meta`)."""
    import torch

    import modelyard

    folder.mkdir(parents=True, exist_ok=True)
    module.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    write_json(folder / CONFIG_FILE, config.model_dump(mode="json"))
    versions = {"modelyard_version": modelyard.__version__, "torch_version": torch.__version__}
    write_json(folder / "meta.json", {**versions, **meta})
    share_files(folder)


def share_files(folder: Path) -> None:
    """Give the files under `folder` the usual mode (0644 under umask 022): safetensors and
    Hugging Face's save_pretrained write theirs 0600."""
    umask = os.umask(0)
    os.umask(umask)
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.chmod(0o666 & ~umask)


def write_splits(
    run_dir: Path, tables: dict, sources: dict[str, str], streamed: dict | None = None
) -> None:
    """splits.json: for each split, the table its rows came from and their row labels (the
    table's index: 0-based data rows of a file, header not counted), to recompute any number.
    `streamed`: {split: description} of splits streamed (too many rows to list)."""
    splits = {
        name: {"table": sources[name], "rows": table.index.tolist()}
        for name, table in tables.items()
        if table is not None
    }
    for name, description in (streamed or {}).items():
        splits[name] = {"table": sources[name], **description}
    write_json(run_dir / "splits.json", splits, indent=None)


def write_config(run_dir: Path, config) -> None:
    """config.yaml: the resolved config, every default filled in."""
    import yaml

    resolved = config.model_dump(mode="json")
    (run_dir / "config.yaml").write_text(
        yaml.safe_dump(resolved, sort_keys=False), encoding="utf-8"
    )


def write_results(
    run_dir: Path, config, metrics: dict, history: list[dict], details: dict, report: bool = True
) -> Path | None:
    """config.yaml (again: a resumed run may have changed epochs), metrics.json, history.csv
    and, with `report`, report.html (with model/meta.json's `parameters` and data_summary.json
    where the run has them). Returns the report's path, None without one."""
    from modelyard.report import write_report

    write_config(run_dir, config)
    write_json(run_dir / "metrics.json", metrics)
    write_history(run_dir / HISTORY_FILE, history)
    if not report:
        return None
    config_yaml = (run_dir / "config.yaml").read_text(encoding="utf-8")
    compared = None
    if "baselines" in metrics:
        from modelyard.baselines import comparison

        compared = comparison(config, metrics)
    return write_report(
        run_dir,
        title=config.name,
        metrics={k: v for k, v in metrics.items() if k != "baselines"},
        baselines=compared,
        history=history,
        details=details,
        config_yaml=config_yaml,
        model_size=_optional_json(run_dir / MODEL_DIR / "meta.json").get("parameters"),
        data_summary=_optional_json(run_dir / DATA_SUMMARY) or None,
    )


def _optional_json(path: Path) -> dict:
    """A JSON object the report may show, {} where the file is absent."""
    return read_json(path) if path.is_file() else {}
