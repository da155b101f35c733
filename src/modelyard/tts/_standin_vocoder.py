"""STAND-IN until the `voc` branch (modelyard.vocoder) is merged: Griffin-Lim behind the same
call shape as `modelyard.vocoder.load_vocoder`. Delete this file (and the fallback in
tts/vocoding.py) at merge."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from modelyard.errors import UserError


class _GriffinLim:
    """(B, M, T) log-mel -> (B, samples) float32: mel power -> linear power through the
    pseudo-inverse of the mel bank -> magnitude -> librosa.griffinlim (32 iterations)."""

    scale = None

    def __call__(self, log_mel: torch.Tensor, scale) -> torch.Tensor:
        import librosa

        bank = scale.bank().numpy()  # (F, M)
        inverse = np.linalg.pinv(bank.T)  # (F, M)
        waves = []
        for mel in log_mel.float().cpu().numpy():
            power = np.clip(np.exp(mel) - 1e-6, 0.0, None)  # (M, T)
            magnitude = np.sqrt(np.clip(inverse @ power, 0.0, None))
            waves.append(
                librosa.griffinlim(
                    magnitude,
                    n_iter=32,
                    hop_length=scale.hop,
                    win_length=scale.window,
                    n_fft=scale.n_fft,
                    window="hann",
                    center=True,
                    length=(mel.shape[1] - 1) * scale.hop,
                    random_state=0,
                )
            )
        return torch.from_numpy(np.stack(waves).astype(np.float32))


def load_vocoder(spec: str, base_dir: Path):
    if spec == "griffin_lim":
        return _GriffinLim()
    raise UserError(
        f"vocoder '{spec}': only griffin_lim is available until the neural vocoder (modelyard.vocoder) is installed"
    )
