"""The shared log-mel format (data/mel.py)."""

from __future__ import annotations

import math

import torch

from modelyard.data.mel import LOG_FLOOR, MelScale


def test_sizes_follow_the_settings() -> None:
    scale = MelScale(sample_rate=16000, n_mels=40, window_ms=25.0, hop_ms=10.0)
    assert (scale.window, scale.hop, scale.n_fft) == (400, 160, 512)
    assert scale.bank().shape == (257, 40)
    assert (
        scale.log_mel(torch.zeros(2, 16000)).shape == (2, 40, scale.frames(16000)) == (2, 40, 101)
    )


def test_a_tone_is_loudest_in_its_own_band_and_silence_is_the_floor() -> None:
    scale = MelScale(sample_rate=16000, n_mels=40, window_ms=25.0, hop_ms=10.0)
    t = torch.arange(16000) / 16000
    low, high = (torch.sin(2 * math.pi * f * t) for f in (300.0, 3000.0))
    mel = scale.log_mel(torch.stack([low, high, torch.zeros(16000)]))
    peaks = mel[:2, :, 50].argmax(dim=1)
    centre = scale.bank().argmax(dim=0).float() * 16000 / scale.n_fft  # (n_mels,) Hz
    assert abs(centre[peaks[0]] - 300) < 100 and abs(centre[peaks[1]] - 3000) < 300
    assert torch.allclose(mel[2], torch.full_like(mel[2], math.log(LOG_FLOOR)))
