"""ONNX export through torch's exporter (`torch.onnx.export(dynamo=True)`), with a dynamic batch
axis and dynamic text lengths, checked against onnxruntime on sample inputs at two batch sizes
and two lengths."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from modelyard.errors import UserError
from modelyard.export import Positional, describe_inputs, length_axes


def export_onnx(model, out: Path, inputs: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Write `out` (the graph) and `out`.json (its inputs and outputs); returns the check."""
    _refuse_packed_rnns(model)
    axes = length_axes(model, inputs)
    inputs = {n: _at_least_two(t, axes[n][0]) if n in axes else t for n, t in inputs.items()}
    names = list(inputs)
    outputs = list(model.module.output_names)
    network = Positional(model.module, names, outputs).eval()
    args = tuple(inputs[n] for n in names)
    with torch.no_grad():
        network(*args)  # a bug in the model fails here, as itself, not as "cannot be exported"
    try:
        with torch.no_grad(), _quiet():
            torch.onnx.export(
                network,
                args,
                str(out),
                input_names=names,
                output_names=outputs,
                dynamic_shapes=(tuple(_dynamic(names, axes)),),
                dynamo=True,
                external_data=False,
            )
    except torch.onnx.errors.OnnxExporterError as e:
        cause = _first_cause(e)
        if isinstance(cause, MemoryError | torch.OutOfMemoryError):
            raise  # not the model's limit: the machine's
        first = (re.sub(r"\x1b\[[0-9;]*m", "", str(cause)).strip().splitlines() or [""])[0]
        raise UserError(
            f"this model could not be exported to ONNX ({type(cause).__name__}: {first[:200]}); "
            "--format safetensors always works"
        ) from None
    difference = check(out, network, inputs, axes)
    description = {
        "inputs": describe_inputs(inputs, model),
        "outputs": [{"name": n, "meaning": _meaning(model, n)} for n in outputs],
        "preprocessing": "model/preprocessing.json of the run",
        "check": {
            "onnxruntime_max_abs_difference": difference,
            "rows": len(args[0]),
            "lengths": _lengths(inputs, axes),
        },
    }
    sidecar = out.with_name(out.name + ".json")
    sidecar.write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    return {"file": str(out), "description": str(sidecar), **description["check"]}


def _first_cause(error: BaseException) -> BaseException:
    """The exporter wraps what went wrong while tracing (`raise ... from cause`): the root."""
    while error.__cause__ is not None:
        error = error.__cause__
    return error


def _refuse_packed_rnns(model) -> None:
    """Text rnn encoders pack their sequences (padding never enters the recurrence), which
    torch's ONNX exporter cannot trace."""
    from modelyard.models.encoders.rnn import TextRnn

    for name, encoder in zip(model.module.input_names, model.module.encoders, strict=True):
        if isinstance(encoder, TextRnn):
            raise UserError(
                f"input '{name}': the text rnn encoder (packed sequences) cannot be exported to ONNX; "
                "use a cnn or transformer encoder, or --format safetensors"
            )


@contextlib.contextmanager
def _quiet():
    """The exporter prints progress, warnings and torchvision notes; the user wants the result."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _dynamic(names: list[str], axes: dict[str, tuple[int, int]]) -> list[dict[int, Any]]:
    """Per input: axis 0 is the batch; a text input's token axis is its own length."""
    batch = torch.export.Dim("batch", min=1)
    shapes = []
    for i, name in enumerate(names):
        shape: dict[int, Any] = {0: batch}
        if name in axes:
            axis, longest = axes[name]
            shape[axis] = torch.export.Dim(f"length_{i}", min=1, max=max(2, longest))
        shapes.append(shape)
    return shapes


def _at_least_two(tensor: torch.Tensor, axis: int) -> torch.Tensor:
    """Pad a length axis of 1 to 2 (with padding: id 0, mask 0): the exporter fixes an axis
    traced at length 1."""
    if tensor.shape[axis] > 1:
        return tensor
    pad = [0, 0] * (tensor.dim() - 1 - axis) + [0, 1]
    return torch.nn.functional.pad(tensor, pad)


def _resized(inputs: dict[str, torch.Tensor], axes: dict[str, tuple[int, int]]):
    """The inputs at another length: 3 padding positions more where the limit allows, else one
    token fewer (cut)."""
    resized = {}
    for name, tensor in inputs.items():
        if name not in axes:
            resized[name] = tensor
            continue
        axis, longest = axes[name]
        length = tensor.shape[axis]
        if length + 3 <= longest:
            pad = [0, 0] * (tensor.dim() - 1 - axis) + [0, 3]
            resized[name] = torch.nn.functional.pad(tensor, pad)
        else:
            resized[name] = tensor.narrow(axis, 0, length - 1)
    return resized


def _lengths(inputs: dict[str, torch.Tensor], axes: dict[str, tuple[int, int]]) -> list[int]:
    """The two lengths the check ran at (of the first text input), or [] without text."""
    if not axes:
        return []
    name, (axis, _) = next(iter(axes.items()))
    return [inputs[name].shape[axis], _resized(inputs, axes)[name].shape[axis]]


def check(
    path: Path,
    network: torch.nn.Module,
    inputs: dict[str, torch.Tensor],
    axes: dict[str, tuple[int, int]] | None = None,
) -> float:
    """Max absolute difference between onnxruntime and torch on `inputs`, on their first row
    alone (another batch size) and, with text inputs, at another length."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    variants = [inputs, {name: tensor[:1] for name, tensor in inputs.items()}]
    if axes:
        variants.append(_resized(inputs, axes))
    worst = 0.0
    for variant in variants:
        got = session.run(None, {name: tensor.numpy() for name, tensor in variant.items()})
        with torch.no_grad():
            expected = network(*variant.values())
        for a, b in zip(got, expected, strict=True):
            worst = max(worst, float(np.abs(a - b.numpy()).max()))
    return worst


def _meaning(model, name: str) -> str:
    from modelyard.tasks import task_of

    feature = next(f for f in model.preprocessing.outputs if f.name == name)
    return task_of(feature).output_meaning(feature)
