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
    fitted preprocessing when no data are given."""
    if data is not None:
        frame = model._as_frame(data).head(SAMPLE_ROWS)
        return model._inputs(model.preprocessing.prepare(frame, "export", labels=False))
    made = {f.name: _made_up(f) for f in model.preprocessing.inputs}
    return model.module.pack(made)


def _made_up(feature) -> torch.Tensor:
    """Random tensors of the form a feature's `transform` gives, for the export check."""
    generator = torch.Generator().manual_seed(0)
    rows = SAMPLE_ROWS
    if feature.type in ("number", "binary"):
        return torch.randn(rows, generator=generator)
    if feature.type == "category":
        return torch.randint(0, len(feature.vocab), (rows,), generator=generator)
    if feature.type == "image":
        shape = (rows, feature.channels, feature.height, feature.width)
        return torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8)
    if feature.type == "text" and feature.pretrained:
        return _made_up_pretrained_text(feature, generator)
    if feature.type == "text":
        length = feature.config.preprocessing.max_length
        ids = torch.randint(3, feature.vocab_size, (rows, length), generator=generator)
        ids[:, length // 2 :] = 0  # padding, as short texts have
        return ids
    raise UserError(
        f"input '{feature.name}' ({feature.type}): give --data (a few rows of real inputs) to export this model"
    )


def _made_up_pretrained_text(feature, generator: torch.Generator) -> torch.Tensor:
    """(SAMPLE_ROWS, 2, L) ids from the checkpoint tokenizer's vocabulary and an attention mask
    covering a different number of tokens per row, padded with the tokenizer's padding id."""
    tokenizer = feature.tokenizer
    length = min(feature.config.preprocessing.max_length, tokenizer.model_max_length, 16)
    ids = torch.randint(0, len(tokenizer), (SAMPLE_ROWS, length), generator=generator)
    real = torch.linspace(2, length, SAMPLE_ROWS).long().view(-1, 1)  # (rows, 1) tokens per row
    mask = (torch.arange(length).view(1, -1) < real).long()  # (rows, L)
    ids = torch.where(mask.bool(), ids, tokenizer.pad_token_id)
    return torch.stack([ids, mask], dim=1)


def length_axes(model, inputs: dict[str, torch.Tensor]) -> dict[str, tuple[int, int]]:
    """{input name: (axis, longest allowed)} for the inputs whose length varies: token axes of
    text inputs (1, or 2 for a pretrained (batch, 2, length) input). Audio spectrograms always
    have the frames of `max_seconds`, so their axes stay fixed."""
    axes = {}
    for feature in model.preprocessing.inputs:
        if feature.type == "text" and feature.name in inputs:
            limit = feature.config.preprocessing.max_length
            if feature.pretrained:
                limit = min(limit, feature.tokenizer.model_max_length)
            axes[feature.name] = (2 if feature.pretrained else 1, limit)
    return axes


def describe_inputs(inputs: dict[str, torch.Tensor], model) -> list[dict[str, Any]]:
    """What each ONNX input is and where its values come from."""
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
            entry["preprocessing"] = _HOW.get(feature.type, "see preprocessing.json")
            if feature.type == "text":
                entry.update(_tokenizer(feature, axes[name][1]))
        described.append(entry)
    return described


def _tokenizer(feature, longest: int) -> dict[str, Any]:
    """Where the text input's tokenizer is, relative to the run directory."""
    if feature.pretrained:
        where = f"model/backbones/{feature.name}/"
        how = f"transformers.AutoTokenizer.from_pretrained('{where}'), right padding"
    else:
        where = f"model/preprocessing.json, key {feature.name}.tokenizer"
        how = "tokenizers.Tokenizer.from_str(that string); pad with 0"
    return {"tokenizer": where, "tokenize": how, "max_length": longest}


_HOW = {
    "category": "index into the vocabulary in preprocessing.json (0 = unknown)",
    "text": "token ids of the tokenizer named here, truncated to max_length (0 = padding); pretrained: (batch, 2, length) ids and attention mask",
    "image": "uint8 pixels (batch, channels, height, width) after resizing; normalisation is inside the graph",
    "audio": "log-mel spectrogram (batch, 1, mels, frames) computed as preprocessing.json says",
}
