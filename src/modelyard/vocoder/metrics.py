"""How close a vocoder's copy-synthesis is to the real clip, and how fast it runs.

Mel-cepstral distortion (dB), frame by frame (the waveforms are aligned: copy-synthesis of
the clip's own mels, so no DTW), over all frames of the clip:

    c = DCT-II (orthonormal) over the bands of the natural-log mel amplitude 0.5 * log-mel,
        coefficients 1..24 (c0, the loudness, left out)
    MCD = mean over frames of (10 / ln 10) * sqrt(2 * sum_d (c_d - c'_d)^2)

(Kubichek 1993, with an MFCC-style mel cepstrum of our MelScale instead of SPTK's mcep.)
Log-mel L1: mean |log-mel(output) - log-mel(clip)| over bands and frames.
Real-time factor: seconds of computation / seconds of audio made (below 1: faster than
real time).
"""

from __future__ import annotations

import math

import torch

from modelyard.data.mel import MelScale

CEPSTRA = 24


def _dct_matrix(n: int) -> torch.Tensor:
    """(n, n) orthonormal DCT-II: coefficients = matrix @ x."""
    k = torch.arange(n).view(-1, 1).double()
    i = torch.arange(n).view(1, -1).double()
    m = torch.cos(math.pi / n * (i + 0.5) * k) * math.sqrt(2.0 / n)
    m[0] /= math.sqrt(2.0)
    return m.float()


def mel_cepstra(log_mel: torch.Tensor) -> torch.Tensor:
    """(n_mels, T) log-mel power -> (T, CEPSTRA) mel cepstra c1..c24."""
    dct = _dct_matrix(log_mel.shape[0])
    return (dct @ (0.5 * log_mel))[1 : CEPSTRA + 1].T


def mcd(reference: torch.Tensor, synthesized: torch.Tensor) -> float:
    """Mel-cepstral distortion in dB between two (n_mels, T) log-mels (frames paired)."""
    frames = min(reference.shape[-1], synthesized.shape[-1])
    diff = mel_cepstra(reference[:, :frames]) - mel_cepstra(synthesized[:, :frames])
    per_frame = (10.0 / math.log(10.0)) * torch.sqrt(2.0 * (diff**2).sum(dim=1))
    return float(per_frame.mean())


def log_mel_l1(reference: torch.Tensor, synthesized: torch.Tensor) -> float:
    frames = min(reference.shape[-1], synthesized.shape[-1])
    return float((reference[:, :frames] - synthesized[:, :frames]).abs().mean())


def copy_synthesis(vocoder, clips: list[torch.Tensor], scale: MelScale) -> dict[str, float]:
    """Each clip (samples,) -> its log-mel -> `vocoder` -> log-mel again: {mcd, mel_l1,
    real_time_factor, seconds_of_audio} averaged over the clips (one clip per call, so the
    time is that of synthesising one utterance)."""
    import time

    bank = scale.bank()
    found = {"mcd": 0.0, "mel_l1": 0.0}
    spent = made = 0.0
    for clip in clips:
        mel = scale.log_mel(clip.view(1, -1), bank)
        began = time.perf_counter()
        with torch.no_grad():
            wave = vocoder(mel, scale)
        spent += time.perf_counter() - began
        made += wave.shape[-1] / scale.sample_rate
        again = scale.log_mel(wave, bank)[0]
        found["mcd"] += mcd(mel[0], again)
        found["mel_l1"] += log_mel_l1(mel[0], again)
    count = max(len(clips), 1)
    return {
        "mcd": found["mcd"] / count,
        "mel_l1": found["mel_l1"] / count,
        "real_time_factor": spent / max(made, 1e-9),
        "seconds_of_audio": made,
    }
