"""`modelyard export` of an object detection run: the network as ONNX, checked against
onnxruntime, or its weights as one safetensors file.

The ONNX graph: input `image` (batch, C, H, W) uint8 pixels resized to the run's size
(normalisation is inside); output `output` (batch, K + 4, H / stride, W / stride) float: per
cell K class heatmap logits, the centre's offset (x, y) in cells and the log box width and
height in cells (detection/network.py). Decoding peaks into boxes and NMS stay outside the
graph (detection/targets.decode does them in torch); `<out>.json` says all of this.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from modelyard.errors import UserError

SAMPLE_ROWS = 2


def export_detector(model, fmt: str, out: Path) -> dict[str, Any]:
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "safetensors":
        from safetensors.torch import save_file

        state = {k: v.contiguous() for k, v in model.module.state_dict().items()}
        metadata = {
            "modelyard_config": json.dumps(model.config.model_dump(mode="json")),
            "modelyard_preprocessing": json.dumps(model._state()),
        }
        save_file(state, str(out), metadata=metadata)
        return {"file": str(out), "tensors": len(state), "bytes": out.stat().st_size}
    if fmt != "onnx":
        raise UserError(f"--format '{fmt}': an object detection run exports as onnx or safetensors")
    return _onnx(model, out)


class _Named(torch.nn.Module):
    def __init__(self, network: torch.nn.Module):
        super().__init__()
        self.network = network

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.network(image).float(),)


def _onnx(model, out: Path) -> dict[str, Any]:
    from modelyard.export.onnx import _quiet, check

    network = _Named(model.module).eval()
    image = model.image.example_tensor(SAMPLE_ROWS, torch.Generator().manual_seed(0))
    batch = torch.export.Dim("batch", min=1)
    with torch.no_grad(), _quiet():
        torch.onnx.export(
            network,
            (image,),
            str(out),
            input_names=["image"],
            output_names=["output"],
            dynamic_shapes=({0: batch},),
            dynamo=True,
            external_data=False,
        )
    difference = check(out, network, {"image": image})
    k, stride = len(model.classes), model.config.model.neck.stride
    description = {
        "inputs": [
            {
                "name": "image",
                "dtype": "uint8",
                "shape": ["batch", model.image.channels, model.image.height, model.image.width],
                "meaning": "pixels resized to the run's size; normalisation is inside the graph",
            }
        ],
        "outputs": [
            {
                "name": "output",
                "dtype": "float32",
                "shape": [
                    "batch",
                    k + 4,
                    model.image.height // stride,
                    model.image.width // stride,
                ],
                "meaning": f"per cell of {stride}x{stride} pixels: channels 0..{k - 1} class heatmap logits "
                f"(sigmoid: an object of that class centred here), {k}..{k + 1} the centre's offset (x, y) in cells, "
                f"{k + 2}..{k + 3} log width and height in cells; a box is a 3x3 peak of the heatmap: "
                "centre (cell + offset) * stride, size exp(log size) * stride (modelyard.detection.targets.decode; NMS outside)",
            }
        ],
        "classes": model.classes,
        "check": {"onnxruntime_max_abs_difference": difference, "rows": SAMPLE_ROWS},
    }
    sidecar = out.with_name(out.name + ".json")
    sidecar.write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    return {"file": str(out), "description": str(sidecar), **description["check"]}
