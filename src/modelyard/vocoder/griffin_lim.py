"""The baseline vocoder: Griffin-Lim (librosa), no training.

log-mel (n_mels, T) -> mel power -> linear power by non-negative least squares against
the scale's own bank (`nnls`: 60 multiplicative updates from the bank's interpolation,
a few percent of the power left unexplained; librosa.util.nnls, exact, took 4 s for 50
frames on one core: 100x slower than the Griffin-Lim iterations themselves)
-> magnitude -> librosa.griffinlim (fast Griffin-Lim, momentum 0.99, `iterations`) with
the scale's window, hop and FFT size.
"""

from __future__ import annotations

import numpy as np
import torch

from modelyard.data.mel import LOG_FLOOR, MelScale


class GriffinLim:
    """vocoder(log_mel (B, n_mels, T), scale) -> (B, (T - 1) * hop) float32; any scale."""

    scale = None  # works with any MelScale

    def __init__(self, iterations: int = 32):
        self.iterations = iterations

    def __call__(self, log_mel: torch.Tensor, scale: MelScale) -> torch.Tensor:
        from modelyard.vocoder import check_bands

        check_bands(log_mel, scale.n_mels, "griffin_lim")
        bank = scale.bank()  # (bins, n_mels)
        power = (log_mel.detach().cpu().float().exp() - LOG_FLOOR).clamp(min=0.0)
        linear = nnls(bank, power).numpy()  # (B, bins, T)
        waves = [self._one(m, scale) for m in linear]
        return torch.from_numpy(np.stack(waves)) if waves else torch.zeros(0, 0)

    def _one(self, linear: np.ndarray, scale: MelScale) -> np.ndarray:
        import librosa

        return librosa.griffinlim(
            np.sqrt(linear),
            n_iter=self.iterations,
            hop_length=scale.hop,
            win_length=scale.window,
            n_fft=scale.n_fft,
            window="hann",
            center=True,
            length=(linear.shape[1] - 1) * scale.hop,
            random_state=0,
        ).astype(np.float32)


def nnls(bank: torch.Tensor, power: torch.Tensor, iterations: int = 60) -> torch.Tensor:
    """(bins, n_mels) bank, (B, n_mels, T) mel power -> (B, bins, T) non-negative linear
    power x minimising |bank.T x - power|^2: Lee-Seung multiplicative updates
    x <- x * (A^T b) / (A^T A x), started from the bank's interpolation (positive)."""
    from modelyard.vocoder.networks import _interpolation

    a = bank.T  # (n_mels, bins)
    x = torch.einsum("fm,bmt->bft", _interpolation(bank), power) + 1e-10
    numerator = torch.einsum("mf,bmt->bft", a, power)
    for _ in range(iterations):
        x = x * numerator / (torch.einsum("mf,bmt->bft", a, a @ x) + 1e-12)
    return x
