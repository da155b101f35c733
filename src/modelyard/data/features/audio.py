"""Audio inputs from file paths: decoded with soundfile, made mono, resampled, cut or padded,
turned into log-mel spectrograms (data/mel.MelScale)."""

from __future__ import annotations

from math import gcd
from typing import Any

import numpy as np
import pandas as pd
import torch

from modelyard.data.features.base import Feature, is_missing, map_files, row_label
from modelyard.data.mel import MelScale
from modelyard.errors import UserError

_CHUNK = 256  # clips per stft call


class AudioFeature(Feature):
    """(N, 1, n_mels, frames) float16 log-mel spectrograms, one per clip.

    Every clip is cut or zero-padded to `max_seconds` (default: the longest training clip, kept
    in the state), so all spectrograms have the same number of frames. With `normalization:
    utterance` each spectrogram has zero mean and unit variance over its real (not padded)
    frames, and padded frames are 0.
    """

    type = "audio"
    from_file = True

    def augmenter(self):
        """SpecAugment's time and frequency masks, as configured."""
        from modelyard.data.augment import SpecAugment

        a = self.config.preprocessing.augment
        if not (a.time_masks or a.freq_masks):
            return None
        return SpecAugment(self.name, a.time_masks, a.time_width, a.freq_masks, a.freq_width)

    export_preprocessing = (
        "log-mel spectrogram (batch, 1, mels, frames) computed as preprocessing.json says"
    )

    def drops_missing(self, training: bool) -> bool:
        """With `missing: drop`, in every labelled split: a missing file cannot be filled in
        (evaluation records the rows left out; prediction refuses them)."""
        return self.config.preprocessing.missing == "drop"

    def fit(self, series: pd.Series) -> None:
        prep = self.config.preprocessing
        self.sample_rate = prep.sample_rate
        self.max_seconds = prep.max_seconds
        if self.max_seconds is None:  # the longest clip, from the files' headers alone
            self.max_seconds = max(self._lengths(series)) / self.sample_rate
        self.note(
            f"audio at {self.sample_rate} Hz, cut or padded to {self.max_seconds:.2f} s, "
            f"{prep.n_mels} mel bands x {self.frames} frames"
        )

    @property
    def samples(self) -> int:
        return max(1, round(self.max_seconds * self.sample_rate))

    @property
    def scale(self) -> MelScale:
        prep = self.config.preprocessing
        return MelScale(self.sample_rate, prep.n_mels, prep.window_ms, prep.hop_ms)

    @property
    def hop(self) -> int:
        return self.scale.hop

    @property
    def frames(self) -> int:
        """Spectrogram frames per clip (torch.stft with center=True)."""
        return 1 + self.samples // self.hop

    def transform(self, series: pd.Series) -> torch.Tensor:
        """(N, 1, n_mels, frames) float16."""
        missing = is_missing(series)
        if missing.any():
            position = int(np.flatnonzero(missing)[0])
            raise UserError(
                f"column '{self.column}' {row_label(series, position)}: no audio path ({int(missing.sum())} rows); fill them in or set preprocessing.missing: drop"
            )
        waves = self._waves(series)
        cut = sum(len(wave) > self.samples for wave in waves)
        if cut:
            seconds = self.samples / self.sample_rate
            self.note(
                f"{cut} of {len(waves)} clips were longer than {seconds:.2f} s and are cut (max_seconds)"
            )
        mel = self.scale.bank()  # (freq, n_mels)
        parts = [
            self._spectrograms(waves[i : i + _CHUNK], mel) for i in range(0, len(waves), _CHUNK)
        ]
        return torch.cat(parts).unsqueeze(1)

    def _waves(self, series: pd.Series) -> list[np.ndarray]:
        """Each clip as float32 mono samples at `sample_rate` (not yet cut or padded)."""
        jobs = [(str(p), row_label(series, i)) for i, p in enumerate(series)]
        return map_files(self._load, jobs)

    def _lengths(self, series: pd.Series) -> list[int]:
        """Each clip's samples at `sample_rate`, as `_waves` would give them, from the files'
        headers (not decoded): resample_poly makes ceil(n * up / down) samples of n."""
        jobs = [(str(p), self.column, row_label(series, i)) for i, p in enumerate(series)]
        lengths = []
        for frames, rate in map_files(audio_length, jobs):
            common = gcd(rate, self.sample_rate)
            lengths.append(-(-frames * (self.sample_rate // common) // (rate // common)))
        return lengths

    def _load(self, path: str, row: str) -> np.ndarray:
        wave, rate = read_audio(path, self.column, row)
        if rate != self.sample_rate:
            from scipy.signal import resample_poly

            common = gcd(rate, self.sample_rate)
            wave = resample_poly(wave, self.sample_rate // common, rate // common)
        return wave.astype(np.float32)

    def _spectrograms(self, waves: list[np.ndarray], mel: torch.Tensor) -> torch.Tensor:
        """Clips -> (n, n_mels, frames) float16, normalised per utterance if asked."""
        batch = np.zeros((len(waves), self.samples), dtype=np.float32)
        real_frames = []
        for i, wave in enumerate(waves):
            kept = wave[: self.samples]
            batch[i, : len(kept)] = kept
            real_frames.append(min(self.frames, 1 + len(kept) // self.hop))
        log_mel = self.scale.log_mel(torch.from_numpy(batch), mel)
        if self.config.preprocessing.normalization == "utterance":
            log_mel = _normalise(log_mel, torch.tensor(real_frames))
        return log_mel.to(torch.float16)

    def state(self) -> dict[str, Any]:
        return {"sample_rate": self.sample_rate, "max_seconds": self.max_seconds}

    def load_state(self, state: dict[str, Any]) -> None:
        self.sample_rate = state["sample_rate"]
        self.max_seconds = state["max_seconds"]


def _normalise(log_mel: torch.Tensor, real_frames: torch.Tensor) -> torch.Tensor:
    """(n, M, T) -> zero mean, unit variance over each clip's first `real_frames` frames; 0 after."""
    real = torch.arange(log_mel.shape[2]).view(1, 1, -1) < real_frames.view(-1, 1, 1)
    count = real.sum(dim=(1, 2), keepdim=True) * log_mel.shape[1]
    mean = (log_mel * real).sum(dim=(1, 2), keepdim=True) / count
    var = (((log_mel - mean) * real) ** 2).sum(dim=(1, 2), keepdim=True) / count
    return torch.where(real, (log_mel - mean) / (var.sqrt() + 1e-5), 0.0)


def read_audio(path: str, column: str, row: str) -> tuple[np.ndarray, int]:
    """(samples,) float32 mono (channels averaged) and the file's sample rate."""
    import soundfile

    wave, rate = _read(soundfile.read, path, column, row, dtype="float32", always_2d=True)
    _require_samples(len(wave), path, column, row)
    return wave.mean(axis=1), rate


def audio_length(path: str, column: str, row: str) -> tuple[int, int]:
    """(samples per channel, sample rate) from the file's header, with `read_audio`'s errors."""
    import soundfile

    info = _read(soundfile.info, path, column, row)
    _require_samples(info.frames, path, column, row)
    return info.frames, info.samplerate


def _read(reader, path: str, column: str, row: str, **options):
    """`reader(path, **options)` (soundfile's read or info); a missing or unreadable file is
    a UserError naming the file and row."""
    import os

    import soundfile

    if not os.path.isfile(path):
        raise UserError(f"column '{column}' {row}: audio file '{path}' does not exist")
    try:
        return reader(path, **options)
    except (soundfile.LibsndfileError, RuntimeError, OSError, ValueError) as e:
        raise UserError(
            f"column '{column}' {row}: audio file '{path}' cannot be read ({e}); use WAV, FLAC or OGG, or remove it"
        ) from None


def _require_samples(count: int, path: str, column: str, row: str) -> None:
    if count == 0:
        raise UserError(
            f"column '{column}' {row}: audio file '{path}' is empty; replace or remove it"
        )
