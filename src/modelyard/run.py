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


def prepare(run_dir: Path, resume: bool, overwrite: bool) -> None:
    """Refuse to clobber an existing run unless asked; `overwrite` empties it, `resume` keeps it."""
    exists = run_dir.exists() and any(run_dir.iterdir())
    if resume:
        if not (run_dir / CHECKPOINT).is_file():
            raise UserError(
                f"--resume: '{run_dir}' has no checkpoint ({CHECKPOINT}); train it without --resume"
            )
        return
    if exists and not overwrite:
        raise UserError(
            f"run directory '{run_dir}' already exists; use --resume to continue it, --overwrite to replace it, or --output to choose another"
        )
    if exists:
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)


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
