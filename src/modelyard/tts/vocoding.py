"""Log-mels -> audio through a vocoder: `griffin_lim` or a `task: vocoder` run
(modelyard.vocoder.load_vocoder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from modelyard.errors import UserError


def get_vocoder(spec: str, base_dir: Path):
    """The vocoder named by `spec` (griffin_lim, or a vocoder run directory)."""
    from modelyard.vocoder import load_vocoder

    return load_vocoder(spec, base_dir)


def vocode(vocoder, mels: list[torch.Tensor], scale) -> list[np.ndarray]:
    """(M, T) log-mels in `scale`'s format -> (samples,) float32 waves, one at a time."""
    trained = getattr(vocoder, "scale", None)
    if trained is not None and trained != scale:
        raise UserError(
            f"the vocoder was trained on log-mels {trained}, this model makes {scale}; "
            "train the vocoder with the acoustic model's audio settings"
        )
    with torch.no_grad():
        return [vocoder(mel[None].float(), scale)[0].numpy() for mel in mels]


def wav_bytes(wave: np.ndarray, sample_rate: int) -> bytes:
    """A mono 16-bit PCM WAV file of `wave` (samples,) in [-1, 1]."""
    import io

    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(wave, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")
    return buffer.getvalue()
