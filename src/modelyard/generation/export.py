"""`modelyard export` of an image-generation run: the network that makes images, as ONNX
(checked against onnxruntime) or safetensors.

diffusion: the EMA denoiser (noisy_image (B, C, H, W) in [-1, 1], time (B,) in (0, 1],
label (B,) int64 where conditional; index = classes is "no class") -> predicted noise;
the sampler (DDIM) runs outside the graph. vae: the decoder, gan: the generator (latent
(B, D) standard normal noise [, label (B,)]) -> images (B, C, H, W) in [-1, 1].
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from modelyard.errors import UserError


def export_network(model, fmt: str, out: Path) -> dict[str, Any]:
    module, args, names = model.module.exported()
    module = module.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "safetensors":
        from safetensors.torch import save_file

        state = {k: v.contiguous() for k, v in module.state_dict().items()}
        save_file(
            state,
            str(out),
            metadata={"modelyard_config": json.dumps(model.config.model_dump(mode="json"))},
        )
        return {"file": str(out), "tensors": len(state), "bytes": out.stat().st_size}
    if fmt != "onnx":
        raise UserError(f"--format '{fmt}': an image generation run exports as onnx or safetensors")
    batch = torch.export.Dim("batch", min=1)
    from modelyard.export.onnx import _quiet

    with torch.no_grad(), _quiet():
        torch.onnx.export(
            module,
            args,
            str(out),
            input_names=names,
            output_names=["output"],
            dynamic_shapes=tuple({0: batch} for _ in args),
            dynamo=True,
            external_data=False,
        )
    difference = _check(out, module, args, names)
    description = {
        "network": {"diffusion": "denoiser", "vae": "decoder", "gan": "generator"}[
            model.config.model.type
        ],
        "inputs": [
            {"name": n, "shape": list(a.shape), "dtype": str(a.dtype)}
            for n, a in zip(names, args, strict=True)
        ],
        "classes": model.classes,
        "check": {"onnxruntime_max_abs_difference": difference},
    }
    sidecar = out.with_name(out.name + ".json")
    sidecar.write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    return {"file": str(out), "description": str(sidecar), **description["check"]}


def _check(path: Path, module, args, names) -> float:
    """Max absolute difference between onnxruntime and torch, at the example's batch and at 1."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for rows in (len(args[0]), 1):
        part = [a[:rows] for a in args]
        got = session.run(None, {n: a.numpy() for n, a in zip(names, part, strict=True)})[0]
        with torch.no_grad():
            expected = module(*part).float().numpy()
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst
