"""Griffin-Lim, the least-squares inversion of the mel bank, and the copy-synthesis metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from modelyard.data.mel import MelScale
from modelyard.errors import UserError
from modelyard.vocoder import load_vocoder
from modelyard.vocoder.griffin_lim import nnls
from modelyard.vocoder.metrics import CEPSTRA, copy_synthesis, mcd, mel_cepstra

SCALE = MelScale(8000, 20, 32.0, 8.0)


def _tone(seconds: float = 0.5) -> torch.Tensor:
    """Two tones in a little noise (every band above the log floor)."""
    t = torch.arange(int(seconds * SCALE.sample_rate)) / SCALE.sample_rate
    noise = 0.02 * torch.randn(len(t), generator=torch.Generator().manual_seed(0))
    return 0.3 * torch.sin(2 * math.pi * 440 * t) + 0.1 * torch.sin(2 * math.pi * 1250 * t) + noise


def test_nnls_fits_the_mel_power_with_non_negative_bins():
    """Multiplicative updates: a few percent of the mel power left unexplained (exact NNLS,
    scipy's, leaves none: 80 bands, 129 bins), never a negative bin."""
    bank = SCALE.bank()
    rng = np.random.default_rng(0)
    power = torch.from_numpy(rng.random((2, SCALE.n_mels, 3)).astype(np.float32) + 0.01)
    linear = nnls(bank, power)
    residual = torch.einsum("fm,bft->bmt", bank, linear) - power
    assert float(residual.norm() / power.norm()) < 0.05
    assert (linear >= 0).all()


def test_griffin_lim_resynthesizes_a_tone_close_to_its_mel():
    vocoder = load_vocoder("griffin_lim", iterations=16)
    assert vocoder.scale is None
    mel = SCALE.log_mel(_tone().view(1, -1))
    wave = vocoder(mel, SCALE)
    assert wave.shape == (1, (mel.shape[-1] - 1) * SCALE.hop)
    noise = torch.randn(1, wave.shape[1], generator=torch.Generator().manual_seed(1)) * 0.2
    assert mcd(mel[0], SCALE.log_mel(wave)[0]) < 0.25 * mcd(mel[0], SCALE.log_mel(noise)[0])


def test_griffin_lim_refuses_mels_of_another_band_count():
    with pytest.raises(UserError, match="20 bands"):
        load_vocoder("griffin_lim")(torch.zeros(1, 80, 5), SCALE)


def test_mcd_is_zero_for_the_same_mel_and_follows_the_formula():
    from scipy.fft import dct

    a, b = torch.randn(SCALE.n_mels, 7), torch.randn(SCALE.n_mels, 7)
    assert mcd(a, a) == 0.0
    ca = dct(0.5 * a.numpy(), type=2, norm="ortho", axis=0)[1 : CEPSTRA + 1]
    cb = dct(0.5 * b.numpy(), type=2, norm="ortho", axis=0)[1 : CEPSTRA + 1]
    expected = np.mean(10 / np.log(10) * np.sqrt(2 * ((ca - cb) ** 2).sum(axis=0)))
    assert mcd(a, b) == pytest.approx(expected, rel=1e-4)
    assert mel_cepstra(a).shape == (7, min(CEPSTRA, SCALE.n_mels - 1))


def test_a_louder_copy_costs_no_mcd_but_costs_mel_l1():
    """c0 (loudness) is left out of MCD; log-mel L1 sees it."""
    wave = _tone()

    def louder(mel, scale):
        return 2.0 * wave[: (mel.shape[-1] - 1) * scale.hop].view(1, -1)

    found = copy_synthesis(louder, [wave], SCALE)
    assert found["mcd"] < 0.5 and found["mel_l1"] > 1.0
    assert found["real_time_factor"] >= 0 and found["seconds_of_audio"] > 0
