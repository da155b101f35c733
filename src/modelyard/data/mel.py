"""The one log-mel format of modelyard's audio: what audio inputs feed their encoders, what a
text-to-speech model predicts and what a vocoder turns back into sound.

    wave (N, samples) float32 in [-1, 1] at `sample_rate`
      -> |torch.stft(n_fft, hop, hann window of `window` samples, center=True)|^2
      -> Slaney mel filter bank (transformers.audio_utils.mel_filter_bank, 0 Hz to Nyquist)
      -> log(power + 1e-6)                          (N, n_mels, 1 + samples // hop)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

LOG_FLOOR = 1e-6  # added to mel power before the log: silence is log(1e-6), not -inf


@dataclass(frozen=True)
class MelScale:
    """A log-mel spectrogram's settings; `window_ms` and `hop_ms` become samples at
    `sample_rate`, the FFT size is the next power of two of the window."""

    sample_rate: int
    n_mels: int
    window_ms: float
    hop_ms: float

    @property
    def hop(self) -> int:
        return max(1, round(self.hop_ms * self.sample_rate / 1000))

    @property
    def window(self) -> int:
        return max(2, round(self.window_ms * self.sample_rate / 1000))

    @property
    def n_fft(self) -> int:
        return 1 << (self.window - 1).bit_length()

    def frames(self, samples: int) -> int:
        """Frames of a clip of `samples` samples (torch.stft with center=True)."""
        return 1 + samples // self.hop

    def bank(self) -> torch.Tensor:
        """(n_fft // 2 + 1, n_mels) triangular Slaney-style mel filters."""
        from transformers.audio_utils import mel_filter_bank

        return torch.from_numpy(
            mel_filter_bank(
                num_frequency_bins=self.n_fft // 2 + 1,
                num_mel_filters=self.n_mels,
                min_frequency=0.0,
                max_frequency=self.sample_rate / 2,
                sampling_rate=self.sample_rate,
                norm="slaney",
                mel_scale="slaney",
                dtype=np.float32,
            )
        )

    def log_mel(self, waves: torch.Tensor, bank: torch.Tensor | None = None) -> torch.Tensor:
        """(N, samples) float32 -> (N, n_mels, frames(samples)) float32 log-mel power.
        `bank`: `self.bank()`, passed in by callers that convert many chunks."""
        spec = torch.stft(
            waves,
            self.n_fft,
            hop_length=self.hop,
            win_length=self.window,
            window=torch.hann_window(self.window, device=waves.device),
            center=True,
            return_complex=True,
        )  # (N, n_fft // 2 + 1, frames)
        bank = self.bank() if bank is None else bank
        return torch.log(
            torch.einsum("nft,fm->nmt", spec.abs() ** 2, bank.to(waves.device)) + LOG_FLOOR
        )
