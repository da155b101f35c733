"""ONNX export through torch's exporter (`torch.onnx.export(dynamo=True)`), with a dynamic batch
axis, checked against onnxruntime on sample inputs."""

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
from modelyard.export import Positional, describe_inputs


def export_onnx(model, out: Path, inputs: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Write `out` (the graph) and `out`.json (its inputs and outputs); returns the check."""
    _refuse_packed_rnns(model)
    names = list(inputs)
    outputs = list(model.module.output_names)
    network = Positional(model.module, names, outputs).eval()
    args = tuple(inputs[n] for n in names)
    batch = torch.export.Dim("batch", min=1)
    try:
        with torch.no_grad(), _quiet():
            torch.onnx.export(
                network,
                args,
                str(out),
                input_names=names,
                output_names=outputs,
                dynamic_shapes=(tuple({0: batch} for _ in names),),
                dynamo=True,
                external_data=False,
            )
    except Exception as e:  # noqa: BLE001 - the exporter's many errors all mean "not exportable"
        first = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).splitlines()[0][:200]
        raise UserError(
            f"this model could not be exported to ONNX ({type(e).__name__}: {first}); "
            "--format safetensors always works"
        ) from None
    difference = check(out, network, inputs)
    description = {
        "inputs": describe_inputs(inputs, model),
        "outputs": [{"name": n, "meaning": _meaning(model, n)} for n in outputs],
        "preprocessing": "model/preprocessing.json of the run",
        "check": {"onnxruntime_max_abs_difference": difference, "rows": len(args[0])},
    }
    sidecar = out.with_name(out.name + ".json")
    sidecar.write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    return {"file": str(out), "description": str(sidecar), **description["check"]}


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


def check(path: Path, network: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> float:
    """Max absolute difference between onnxruntime and torch on `inputs` (and on one row, so
    the batch axis is exercised at another size)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for rows in (len(next(iter(inputs.values()))), 1):
        feed = {name: tensor[:rows].numpy() for name, tensor in inputs.items()}
        got = session.run(None, feed)
        with torch.no_grad():
            expected = network(*(tensor[:rows] for tensor in inputs.values()))
        for a, b in zip(got, expected, strict=True):
            worst = max(worst, float(np.abs(a - b.numpy()).max()))
    return worst


def _meaning(model, name: str) -> str:
    feature = next(f for f in model.preprocessing.outputs if f.name == name)
    if feature.type == "category":
        return f"logits over the classes {list(feature.vocab)} (softmax gives probabilities)"
    if feature.type == "binary":
        return f"logit of '{feature.values[1]}' (sigmoid gives its probability)"
    if feature.type == "number":
        return f"standardised value: multiply by {feature.scale:g} and add {feature.shift:g}"
    return "raw scores; see the run's config"
