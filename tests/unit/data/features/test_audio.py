"""Audio features: sine sweeps and noise written with soundfile in the test; resampling,
stereo, padding, normalisation, state, bad files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from modelyard.config.schema import AudioInput
from modelyard.data.features.audio import AudioFeature
from modelyard.errors import UserError


def sweep(seconds: float, rate: int, low: float = 200.0, high: float = 2000.0) -> np.ndarray:
    """A linear sine sweep from `low` to `high` Hz."""
    t = np.arange(round(seconds * rate)) / rate
    phase = 2 * np.pi * (low * t + (high - low) * t**2 / (2 * seconds))
    return (0.5 * np.sin(phase)).astype(np.float32)


def write(path, wave, rate=16000, fmt=None) -> str:
    sf.write(str(path), wave, rate, format=fmt)
    return str(path)


def feature(**preprocessing) -> AudioFeature:
    preprocessing = {"n_mels": 16, **preprocessing}
    return AudioFeature(AudioInput(name="clip", type="audio", preprocessing=preprocessing))


def fitted(paths, **preprocessing) -> AudioFeature:
    f = feature(**preprocessing)
    f.fit(pd.Series(paths))
    return f


def test_longest_training_clip_sets_the_length(tmp_path):
    paths = [
        write(tmp_path / "a.wav", sweep(0.5, 16000)),
        write(tmp_path / "b.wav", sweep(0.3, 16000)),
    ]
    f = fitted(paths)
    assert f.max_seconds == pytest.approx(0.5)
    x = f.transform(pd.Series(paths))
    assert x.shape == (2, 1, 16, 1 + 8000 // 160) and x.dtype == torch.float16
    assert f.notes == ["clip: audio at 16000 Hz, cut or padded to 0.50 s, 16 mel bands x 51 frames"]


@pytest.mark.parametrize(
    ("rate", "fmt"), [(16000, None), (44100, None), (22050, "FLAC"), (11025, "OGG")]
)
def test_the_fit_reads_clip_lengths_from_headers_without_decoding(tmp_path, monkeypatch, rate, fmt):
    """max_seconds is the longest clip's samples once resampled (resample_poly's ceil(n * up
    / down)), as decoding gives it, but from the file headers: a folder of a million clips is
    not decoded (nor held) to fit."""
    paths = [
        write(tmp_path / f"{i}.{(fmt or 'wav').lower()}", sweep(s, rate), rate=rate, fmt=fmt)
        for i, s in enumerate([0.1234, 0.31, 0.2])
    ]
    reader = fitted(paths, max_seconds=1.0)  # a fit that needs no lengths
    decoded = max(len(reader._load(path, "row 1")) for path in paths)  # at 16 kHz
    import soundfile

    monkeypatch.setattr(soundfile, "read", lambda *a, **k: pytest.fail("the fit decoded a clip"))
    f = fitted(paths)
    assert f.max_seconds == decoded / 16000
    with pytest.raises(UserError, match=r"row 1: audio file '.*nope.wav' does not exist"):
        fitted([str(tmp_path / "nope.wav")])


def test_utterance_normalisation_and_zero_padding(tmp_path):
    paths = [
        write(tmp_path / "a.wav", sweep(0.5, 16000)),
        write(tmp_path / "b.wav", sweep(0.25, 16000)),
    ]
    x = fitted(paths).transform(pd.Series(paths)).float()
    assert x[0].mean() == pytest.approx(0, abs=1e-3) and x[0].std() == pytest.approx(1, abs=0.02)
    real = 1 + 4000 // 160
    assert x[1, :, :, :real].mean() == pytest.approx(0, abs=1e-3)
    assert torch.equal(x[1, :, :, real:], torch.zeros_like(x[1, :, :, real:]))


def test_without_normalisation_values_are_log_mel_power(tmp_path):
    paths = [write(tmp_path / "a.wav", np.zeros(1600, dtype=np.float32))]
    x = fitted(paths, normalization="none").transform(pd.Series(paths)).float()
    torch.testing.assert_close(
        x, torch.full_like(x, float(np.log(np.float32(1e-6)))), rtol=1e-3, atol=1e-2
    )


def test_longer_clips_are_cut_to_max_seconds(tmp_path):
    paths = [write(tmp_path / "a.wav", sweep(1.0, 16000))]
    f = fitted(paths, max_seconds=0.2)
    assert f.transform(pd.Series(paths)).shape[-1] == 1 + 3200 // 160
    assert "clip: 1 of 1 clips were longer than 0.20 s and are cut (max_seconds)" in f.notes


def test_resampling_gives_the_same_spectrogram(tmp_path):
    """A sweep written at 8 kHz, resampled to 16 kHz, matches the 16 kHz original below 4 kHz."""
    low = write(tmp_path / "low.wav", sweep(0.5, 8000, high=3000), rate=8000)
    high = write(tmp_path / "high.wav", sweep(0.5, 16000, high=3000))
    f = fitted([high], normalization="none", n_mels=32)
    assert f.max_seconds == pytest.approx(0.5)
    a, b = f.transform(pd.Series([low, high])).float()
    bands = slice(4, 20)  # mel bands well inside 0..4 kHz, away from the resampling filter's edge
    assert torch.corrcoef(torch.stack([a[0, bands].flatten(), b[0, bands].flatten()]))[0, 1] > 0.98


def test_stereo_is_averaged_to_mono(tmp_path):
    wave = sweep(0.3, 16000)
    mono = write(tmp_path / "mono.wav", wave)
    stereo = write(tmp_path / "stereo.flac", np.stack([wave, wave], axis=1))
    f = fitted([mono])
    a, b = f.transform(pd.Series([mono, stereo])).float()
    torch.testing.assert_close(a, b, atol=2e-2, rtol=0)


def test_flac_and_ogg_are_read(tmp_path):
    noise = np.random.default_rng(0).normal(scale=0.1, size=4800).astype(np.float32)
    paths = [write(tmp_path / "n.flac", noise), write(tmp_path / "n.ogg", noise, fmt="OGG")]
    x = fitted(paths).transform(pd.Series(paths))
    assert torch.isfinite(x.float()).all() and x.shape[0] == 2


def test_state_round_trips_through_json(tmp_path):
    paths = [write(tmp_path / "a.wav", sweep(0.4, 22050), rate=22050)]
    f = fitted(paths, sample_rate=8000)
    other = feature(sample_rate=8000)
    other.load_state(json.loads(json.dumps(f.state())))
    assert torch.equal(other.transform(pd.Series(paths)), f.transform(pd.Series(paths)))


def test_unreadable_file_names_the_file_and_row(tmp_path):
    good = write(tmp_path / "a.wav", sweep(0.2, 16000))
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    with pytest.raises(
        UserError, match=r"column 'clip' row 2: audio file '.*bad.wav' cannot be read"
    ):
        fitted([good, str(bad)])


def test_empty_file_names_the_file_and_row(tmp_path):
    good = write(tmp_path / "a.wav", sweep(0.2, 16000))
    empty = write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32))
    f = fitted([good])
    with pytest.raises(UserError, match=r"row 2: audio file '.*empty.wav' is empty"):
        f.transform(pd.Series([good, empty]))


def test_missing_file_and_missing_path(tmp_path):
    good = write(tmp_path / "a.wav", sweep(0.2, 16000))
    f = fitted([good])
    with pytest.raises(UserError, match=r"row 2: audio file '.*nope.wav' does not exist"):
        f.transform(pd.Series([good, str(tmp_path / "nope.wav")]))
    with pytest.raises(UserError, match=r"row 1: no audio path \(1 rows\)"):
        f.transform(pd.Series([None, good]))
