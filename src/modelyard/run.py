"""The run directory: what a run leaves behind, and the saved model (safetensors + JSON, nothing pickled).

<run>/config.yaml         resolved config, defaults filled in
<run>/metrics.json        {"validation": {...}, "test": {...}}
<run>/history.csv         one row per epoch
<run>/report.html
<run>/checkpoints/last.pt for --resume
<run>/model/              modelyard.json (resolved config), preprocessing.json, weights.safetensors, meta.json
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

from modelyard.errors import UserError

MODEL_DIR = "model"
CHECKPOINT = Path("checkpoints") / "last.pt"
CONFIG_FILE = "modelyard.json"  # not config.json: a Hugging Face checkpoint may share the folder


def check(run_dir: Path, resume: bool, overwrite: bool) -> None:
    """Raise UserError unless `prepare` may go ahead. Changes nothing (safe on every process).

    `--overwrite` only ever deletes a folder that is a modelyard run (config.yaml plus model/
    or checkpoints/), and never one that holds the current directory.
    """
    exists = run_dir.exists() and any(run_dir.iterdir())
    if resume:
        if not (run_dir / CHECKPOINT).is_file():
            raise UserError(
                f"cannot resume (resume=True / --resume): '{run_dir}' has no checkpoint ({CHECKPOINT}), so there is nothing to continue; start it again (overwrite=True / --overwrite)"
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


def start(run_dir: Path, resume: bool, overwrite: bool, config, procs) -> None:
    """Before training: every process checks (so all fail alike), then rank 0 prepares."""
    from modelyard.train import distributed

    check(run_dir, resume, overwrite)
    if resume:
        check_resumable(run_dir, config.model_dump(mode="json"))
    distributed.barrier(procs)
    if procs.is_main:
        prepare(run_dir, resume, overwrite)
    distributed.barrier(procs)


def prepare(run_dir: Path, resume: bool, overwrite: bool) -> None:
    """Create the run directory; with `overwrite`, empty an existing run first."""
    check(run_dir, resume, overwrite)
    if resume:
        return
    if run_dir.exists() and any(run_dir.iterdir()):
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)


def check_resumable(run_dir: Path, resolved: dict) -> None:
    """A resumed run must use the config it started with (only trainer.epochs may change)."""
    import yaml

    saved = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    differences = [p for p in _differences(saved, resolved) if p != "trainer.epochs"]
    if differences:
        raise UserError(
            f"cannot resume (resume=True / --resume): the config differs from the one '{run_dir}' was started with at {', '.join(differences)}; only trainer.epochs may change (or start again: overwrite=True / --overwrite)"
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


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=float) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(
            f"'{path}' cannot be read ({e}); the saved model is incomplete or damaged"
        ) from None


def write_history(path: Path, history: list[dict[str, float]]) -> None:
    columns = list(dict.fromkeys(k for row in history for k in row))
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(history)


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


def write_config(run_dir: Path, config) -> None:
    """config.yaml: the resolved config, every default filled in."""
    import yaml

    resolved = config.model_dump(mode="json")
    (run_dir / "config.yaml").write_text(
        yaml.safe_dump(resolved, sort_keys=False), encoding="utf-8"
    )


def write_results(run_dir: Path, config, metrics: dict, history: list[dict], details: dict) -> Path:
    """config.yaml (again: a resumed run may have changed epochs), metrics.json, history.csv
    and report.html. Returns the report's path."""
    from modelyard.report import write_report

    write_config(run_dir, config)
    write_json(run_dir / "metrics.json", metrics)
    write_history(run_dir / "history.csv", history)
    config_yaml = (run_dir / "config.yaml").read_text(encoding="utf-8")
    return write_report(
        run_dir,
        title=config.name,
        metrics=metrics,
        history=history,
        details=details,
        config_yaml=config_yaml,
    )
