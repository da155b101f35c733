"""Synthesis metrics: mel-cepstral distortion and the transcript normalisation of WER."""

from __future__ import annotations

import numpy as np

from modelyard.data.mel import MelScale
from modelyard.tts.evaluate import mcd, normalise, wer

SCALE = MelScale(8000, 20, 32.0, 16.0)


def test_mcd_is_zero_for_the_same_wave_and_ignores_loudness():
    wave = np.random.default_rng(0).normal(0, 0.1, 8000).astype(np.float32)
    assert mcd(wave, wave, SCALE) == 0.0
    assert mcd(2 * wave, wave, SCALE) < 1e-3  # a gain only moves c0, which MCD leaves out


def test_mcd_aligns_by_dtw_and_grows_with_spectral_difference():
    rng = np.random.default_rng(1)
    t = np.arange(8000) / 8000
    tone = (0.3 * np.sin(2 * np.pi * 440 * t) + rng.normal(0, 0.01, 8000)).astype(np.float32)
    slower = np.concatenate([tone[:4000], tone[:4000], tone[4000:]])  # same sound, longer
    other = (0.3 * np.sin(2 * np.pi * 1500 * t) + rng.normal(0, 0.01, 8000)).astype(np.float32)
    assert mcd(slower, tone, SCALE) < 0.2 * mcd(other, tone, SCALE)


def test_wer_ignores_case_and_punctuation_but_not_words():
    assert normalise("Yes, Mr. Darcy\u2019s  HAT!") == "yes mr darcy's hat"
    assert wer(["Yes, I do."], ["yes i do"]) == 0.0
    assert wer(["yes i do"], ["yes you do"]) == 1 / 3
