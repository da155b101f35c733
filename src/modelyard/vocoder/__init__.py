"""Vocoders: log-mel spectrograms (modelyard.data.mel.MelScale) back to waveforms.

    vocoder = load_vocoder(spec, base_dir)  # "griffin_lim" or a `task: vocoder` run directory
    waves = vocoder(log_mel, scale)  # (B, n_mels, T) float32 -> (B, (T - 1) * hop) float32
    vocoder.scale  # the MelScale a neural vocoder was trained on; None for griffin_lim

Griffin-Lim needs no training and takes any scale; a neural vocoder (vocoder/model.py,
trained by `modelyard train` on a `task: vocoder` config) only the scale it was trained on.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.errors import UserError

if TYPE_CHECKING:
    import torch

    from modelyard.data.mel import MelScale

GRIFFIN_LIM = "griffin_lim"


def load_vocoder(spec: str | Path, base_dir: str | Path | None = None, **options: Any):
    """`spec`: "griffin_lim" (options: iterations) or the path of a vocoder run directory
    (or its model/ folder), relative to `base_dir`. A callable (log_mel, scale) -> waves."""
    if str(spec) == GRIFFIN_LIM:
        from modelyard.vocoder.griffin_lim import GriffinLim

        return GriffinLim(**options)
    from modelyard.vocoder.model import load_neural

    path = Path(spec)
    if base_dir is not None and not path.is_absolute():
        path = Path(base_dir) / path
    return load_neural(path, str(spec))


def check_bands(log_mel: torch.Tensor, n_mels: int, who: str) -> None:
    """A UserError unless `log_mel` is (B, n_mels, T)."""
    if log_mel.dim() != 3 or log_mel.shape[1] != n_mels:
        raise UserError(
            f"vocoder {who}: expected log-mel spectrograms of shape (batch, {n_mels} bands, "
            f"frames), got {tuple(log_mel.shape)}; give mels of the scale the vocoder uses"
        )


def check_scale(trained: MelScale, given: MelScale, who: str) -> None:
    """A UserError unless the mels given are in the scale the vocoder was trained on."""
    if trained != given:
        raise UserError(
            f"vocoder {who} was trained on log-mels of {_describe(trained)}, but was given "
            f"{_describe(given)}; use a vocoder trained on the same mel settings (or griffin_lim)"
        )


def _describe(scale: MelScale) -> str:
    return (
        f"{scale.sample_rate} Hz, {scale.n_mels} bands, window {scale.window_ms} ms, "
        f"hop {scale.hop_ms} ms"
    )
