"""`modelyard export`: a trained run as ONNX (checked against onnxruntime) or as one safetensors file.

What the ONNX graph holds: the network only, from the model's input tensors to each output's
raw scores. Preprocessing stays outside, as in the run itself: the graph's inputs are what
`Model._inputs` gives the network (see `describe_inputs` and the `<out>.json` written beside
the graph), and `model/preprocessing.json` holds the state (means, vocabularies, tokenizers)
that turns table columns into them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from modelyard.errors import UserError

FORMATS = ("onnx", "safetensors")
SAMPLE_ROWS = 4


class Positional(nn.Module):
    """The model with positional tensor inputs and a tuple of outputs, as exporters want it."""

    def __init__(self, module: nn.Module, input_names: list[str], output_names: list[str]):
        super().__init__()
        self.module = module
        self.input_names = input_names
        self.output_names = output_names

    def forward(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.module(dict(zip(self.input_names, tensors, strict=True)))
        return tuple(out[name].float() for name in self.output_names)


def export(model, fmt: str, out: Path, data: Any = None) -> dict[str, Any]:
    """Write `model` (an api.Model) to `out`; returns what was written and checked."""
    if fmt not in FORMATS:
        raise UserError(f"--format '{fmt}': use one of {', '.join(FORMATS)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    # a task that exports its own network (detection, image generation)
    own = getattr(model, "export_network", None)
    if own is not None:
        return own(fmt, out, data)
    if fmt == "safetensors":
        return _safetensors(model, out)
    from modelyard.export.onnx import export_onnx

    return export_onnx(model, out, sample_inputs(model, data))


def _safetensors(model, out: Path) -> dict[str, Any]:
    """All weights in one file; the resolved config and preprocessing state in its metadata."""
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in model.state_tensors().items()}
    metadata = {
        "modelyard_config": json.dumps(model.config.model_dump(mode="json")),
        "modelyard_preprocessing": json.dumps(model.preprocessing.state()),
    }
    save_file(state, str(out), metadata=metadata)
    return {"file": str(out), "tensors": len(state), "bytes": out.stat().st_size}


def sample_inputs(model, data: Any) -> dict[str, torch.Tensor]:
    """Network inputs {name: (SAMPLE_ROWS, ...)}: the first rows of `data`, or made up from the
    fitted preprocessing when no data are given (`Feature.example_tensor`; an input whose
    tensors cannot be made up asks for --data)."""
    if data is not None:
        frame = model._as_frame(data).head(SAMPLE_ROWS)
        return model._inputs(model.preprocessing.prepare(frame, "export", labels=False))
    made = {
        f.name: f.example_tensor(SAMPLE_ROWS, torch.Generator().manual_seed(0))
        for f in model.preprocessing.inputs
    }
    return model.module.pack(made)


def length_axes(model, inputs: dict[str, torch.Tensor]) -> dict[str, tuple[int, int]]:
    """{input name: (axis, longest allowed)} for the inputs whose length varies
    (`Feature.length_axis`: the token axes of text inputs). Audio spectrograms always have the
    frames of `max_seconds`, so their axes stay fixed."""
    axes = {}
    for feature in model.preprocessing.inputs:
        axis = feature.length_axis() if feature.name in inputs else None
        if axis is not None:
            axes[feature.name] = axis
    return axes


def describe_inputs(inputs: dict[str, torch.Tensor], model) -> list[dict[str, Any]]:
    """What each ONNX input is and where its values come from (`Feature.export_description`)."""
    stacked = getattr(model.module, "stacked", [])
    axes = length_axes(model, inputs)
    described = []
    for name, tensor in inputs.items():
        shape: list[Any] = ["batch", *tensor.shape[1:]]
        if name in axes:
            shape[axes[name][0]] = "length"
        entry = {"name": name, "dtype": str(tensor.dtype).removeprefix("torch."), "shape": shape}
        if stacked and name == "__numbers__":
            entry["columns"] = stacked
            entry["preprocessing"] = (
                "each column standardised (or scaled) as preprocessing.json says, binaries as 0/1"
            )
        else:
            feature = next(f for f in model.preprocessing.inputs if f.name == name)
            entry["columns"] = [feature.column]
            entry.update(feature.export_description())
        described.append(entry)
    return described
