"""ONNX export failures: what the exporter cannot handle is the model's limit (a UserError);
a bug or running out of memory keeps its own exception and traceback."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from modelyard.errors import UserError
from modelyard.export.onnx import export_onnx


class _Network(nn.Module):
    """{"x": (B, 3)} -> {"y": (B,)}; `branch` decides on a value (data-dependent control flow)."""

    input_names: list[str] = []
    encoders: list[nn.Module] = []
    output_names = ["y"]

    def __init__(self, branch: bool = False, bug: bool = False):
        super().__init__()
        self.linear = nn.Linear(3, 1)
        self.branch, self.bug = branch, bug

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if self.bug:
            raise RuntimeError("a bug of ours")
        y = self.linear(inputs["x"]).squeeze(1)
        if self.branch and y.sum() > 0:
            y = y * 2
        return {"y": y}


def _model(**options) -> SimpleNamespace:
    return SimpleNamespace(module=_Network(**options), preprocessing=SimpleNamespace(inputs=[]))


def _export(model, tmp_path):
    return export_onnx(model, tmp_path / "m.onnx", {"x": torch.randn(4, 3)})


def test_what_the_exporter_cannot_handle_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="could not be exported to ONNX .*--format safetensors"):
        _export(_model(branch=True), tmp_path)


def test_a_bug_in_the_model_is_not_called_unexportable(tmp_path):
    with pytest.raises(RuntimeError, match="a bug of ours"):
        _export(_model(bug=True), tmp_path)


@pytest.mark.parametrize("error", [MemoryError, RuntimeError])
def test_other_failures_of_the_exporter_propagate(tmp_path, monkeypatch, error):
    def fail(*args, **kwargs):
        raise error("out of memory, or a bug")

    monkeypatch.setattr(torch.onnx, "export", fail)
    with pytest.raises(error):
        _export(_model(), tmp_path)


def test_running_out_of_memory_while_tracing_propagates(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise torch.onnx.errors.OnnxExporterError("failed to export") from MemoryError()

    monkeypatch.setattr(torch.onnx, "export", fail)
    with pytest.raises(torch.onnx.errors.OnnxExporterError) as raised:
        _export(_model(), tmp_path)
    assert isinstance(raised.value.__cause__, MemoryError)
