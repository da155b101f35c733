"""`modelyard compress`: a trained run -> a new, smaller or faster run, plus a before/after table.

Methods (one registry): `quantize` (dynamic int8 Linear layers, quantize.py), `prune` (magnitude,
unstructured or `structured`, then optional fine-tuning, prune.py), `distill` (a smaller
student config, with its own encoders and preprocessing, trained on the teacher's outputs,
distill.py). The new run is an ordinary run
directory (config.yaml, metrics.json with the test metrics on --data, history.csv, report.html,
model/) that evaluate, predict and serve load like any other, plus compression.json and
compression.md: the table, measured on --data for both runs.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from modelyard import run
from modelyard.errors import UserError
from modelyard.models.encoders.pretrained import pretrained_inputs
from modelyard.registry import Registry

TABLE = "compression"  # <new run>/compression.json and compression.md


@dataclass(frozen=True)
class Options:
    """The command-line options of every method (each method reads its own; see `_check`)."""

    train: Any = None  # labelled data (path or DataFrame) for fine-tuning (prune) or distillation
    epochs: int | None = None
    amount: float = 0.5
    structured: bool = False
    student: str | None = None
    temperature: float = 2.0
    alpha: float = 0.5
    repeats: int = 30  # latency: median of this many forward passes


@dataclass
class Result:
    model: Any  # api.Model holding the compressed module
    history: list[dict[str, float]]
    details: dict[str, Any]
    quantized: bool = False


Method = Callable[[Any, Any, Options], Result]
METHODS: Registry[Method] = Registry("compression method")
_ONLY = {  # option -> (default, methods it applies to)
    "train": (None, ("prune", "distill")),
    "epochs": (None, ("prune", "distill")),
    "amount": (0.5, ("prune",)),
    "structured": (False, ("prune",)),
    "student": (None, ("distill",)),
    "temperature": (2.0, ("distill",)),
    "alpha": (0.5, ("distill",)),
}


@METHODS.register("quantize")
def _quantize(model, train, options: Options) -> Result:
    from modelyard.compress import quantize

    model.module = quantize.quantize(model.module)
    return Result(model, [], quantize.describe(model.module), quantized=True)


@METHODS.register("prune")
def _prune(model, train, options: Options) -> Result:
    from modelyard.compress import prune, training

    details: dict[str, Any] = {"structured": options.structured, "amount": options.amount}
    if options.structured:
        model, details["sizes"] = prune.structured(model, options.amount)
    else:
        model.module = prune.unstructured(model.module, options.amount)
    history = training.train(model, train, options.epochs) if options.epochs else []
    prune.make_permanent(model.module)
    details["fine_tune_epochs"] = options.epochs or 0
    return Result(model, history, details)


@METHODS.register("distill")
def _distill(model, train, options: Options) -> Result:
    from modelyard.compress.distill import distill

    student, history, details = distill(
        model, options.student, train, options.epochs, options.temperature, options.alpha
    )
    return Result(student, history, details)


def compress(
    run_dir: str | Path,
    method: str,
    output: str | Path,
    data: Any,
    options: Options = Options(),
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write the compressed run to `output`; returns the table (also in output/compression.json)."""
    from modelyard.api import Model
    from modelyard.compress import measure

    apply = METHODS.get(method)
    _check(method, options, data)
    source, output = Path(run_dir), Path(output)
    _check_output(source, output, overwrite)
    original = Model.load(source)
    original.require("distill" if method == "distill" else "compress", f"--method {method}")
    frame = original._as_frame(data)
    train = original._as_frame(options.train) if options.train is not None else None
    before = measure.measure(original, frame, _weights(source), options.repeats)
    torch.manual_seed(original.config.trainer.seed)
    result = apply(Model.load(source), train, options)
    run.prepare(output, False, overwrite)
    _save(result, source, output, method)
    compressed = Model.load(output)  # the table's "after" is the run as users will load it
    after = measure.measure(compressed, frame, _weights(output), options.repeats)
    run.write_results(
        output,
        compressed.config,
        {"test": after["metrics"]},
        result.history,
        {"test": after["details"]},
    )
    return _write_table(output, source, method, result, before, after)


def _check(method: str, options: Options, data: Any) -> None:
    """Every option applies to its method; every method gets what it needs."""
    for name, (default, methods) in _ONLY.items():
        value = getattr(options, name)
        changed = value is not None if default is None else value != default  # train: a DataFrame
        if changed and method not in methods:
            flag = "--" + name.replace("_", "-")
            raise UserError(f"{flag} applies to --method {' or '.join(methods)}, not {method}")
    if data is None:
        raise UserError(
            "--data is required: labelled data to measure the task metric on before and after (the run does not store its test split)"
        )
    if method == "distill" and (options.student is None or options.train is None):
        raise UserError(
            "--method distill needs --student CONFIG (the smaller model) and --train PATH (labelled data to distill on)"
        )
    if options.epochs and options.train is None:
        raise UserError(
            f"--epochs {options.epochs}: fine-tuning needs --train PATH (labelled training data)"
        )
    if options.epochs is not None and options.epochs < (1 if method == "distill" else 0):
        raise UserError(
            f"--epochs {options.epochs}: give a number of epochs >= {1 if method == 'distill' else 0}"
        )
    if not 0 < options.amount < 1:
        raise UserError(
            f"--amount {options.amount}: give the fraction of weights to remove, between 0 and 1 (e.g. 0.5)"
        )
    if not 0 < options.temperature < float("inf"):  # NaN too
        raise UserError(f"--temperature {options.temperature}: give a temperature above 0 (e.g. 2)")
    if not 0 <= options.alpha <= 1:
        raise UserError(
            f"--alpha {options.alpha}: give the weight of the teacher's term, between 0 and 1"
        )
    if options.repeats < 1:
        raise UserError("--repeats must be at least 1")


def _check_output(source: Path, output: Path, overwrite: bool) -> None:
    if (
        output.resolve() == source.resolve()
        or output.resolve() == (source / run.MODEL_DIR).resolve()
    ):
        raise UserError(f"--output '{output}' is the run being compressed; choose a new directory")
    if output.exists() and any(output.iterdir()) and not overwrite:
        raise UserError(
            f"--output '{output}' already exists; pass --overwrite to replace it, or choose another --output"
        )
    run.check(output, False, overwrite)


def _weights(run_dir: Path) -> Path:
    return run.model_dir(run_dir) / "weights.safetensors"


def _save(result: Result, source: Path, output: Path, method: str) -> None:
    """The model/ folder: as `Model.save` writes it; a quantized model's weights as int8 tensors
    (quantize.state_tensors) beside model/quantization.json, which `Model.load` reads."""
    model, folder = result.model, output / run.MODEL_DIR
    if not result.quantized or not _pretrained(model.config):
        model.save(folder)  # a quantized one: int8 weights and model/quantization.json
    else:  # a pretrained backbone cannot be re-exported once quantized: its float files are copied
        from safetensors.torch import save_file

        from modelyard.compress import quantize

        model.save(folder, weights=False)
        state = {
            k: v.detach().contiguous() for k, v in quantize.state_tensors(model.module).items()
        }
        save_file(state, str(folder / "weights.safetensors"))
        run.write_json(folder / quantize.RECORD_FILE, result.details)
        backbones = run.model_dir(source) / "backbones"  # float backbones: quantized after building
        if backbones.is_dir():
            shutil.copytree(backbones, folder / "backbones")
    meta = run.read_json(folder / "meta.json")
    meta["compression"] = {"method": method, "from": str(source), "options": result.details}
    run.write_json(folder / "meta.json", meta)


def _write_table(
    output: Path, source: Path, method: str, result: Result, before: dict, after: dict
) -> dict[str, Any]:
    from modelyard.compress import measure

    rows = measure.table(before, after)
    summary = {
        "method": method,
        "from": str(source),
        "to": str(output),
        "options": result.details,
        "torch_threads": torch.get_num_threads(),
        "table": rows,
        "metrics": {"before": before["metrics"], "after": after["metrics"]},
    }
    run.write_json(output / f"{TABLE}.json", summary)
    text = measure.markdown(rows, f"{method}: {source} -> {output}")
    (output / f"{TABLE}.md").write_text(text, encoding="utf-8")
    summary["markdown"] = text
    return summary


def options_from(**values: Any) -> Options:
    """Options from keyword arguments, ignoring None (the CLI's absent flags)."""
    known = asdict(Options())
    return Options(**{k: v for k, v in values.items() if k in known and v is not None})


def _pretrained(config) -> bool:
    return bool(pretrained_inputs(config))
