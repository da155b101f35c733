"""Tiny speech-synthesis data made in the test: each character is a short tone (its own
pitch), so audio length follows text length; two speakers differ in loudness."""

from __future__ import annotations

import numpy as np
import pandas as pd

RATE = 8000
WORDS = ["ab", "bca", "cab", "dd", "bad", "ace", "dab", "cede"]
TINY_AUDIO = {"sample_rate": RATE, "n_mels": 20, "window_ms": 32.0, "hop_ms": 16.0}
TINY_MODEL = {
    "dim": 16,
    "decoder_dim": 16,
    "encoder_layers": 1,
    "attention_layers": 1,
    "decoder_layers": 1,
    "speaker_dim": 4,
    "dropout": 0.0,
}


def tone_clip(text: str, loud: float = 0.5, per_char: int = 512) -> np.ndarray:
    """(samples,) float32: each character of `text` a tone of `per_char` samples."""
    t = np.arange(per_char) / RATE
    parts = [loud * np.sin(2 * np.pi * (150 + 40 * (ord(c) % 16)) * t) for c in text]
    return np.concatenate(parts).astype(np.float32)


def write_split(folder, name: str, count: int, seed: int, stretch: dict | None = None) -> str:
    """`folder`/`name`.csv (text,audio,speaker) and its WAVs; `stretch` {row: factor} makes
    those rows' audio that many times longer (a mismatched file)."""
    import soundfile

    rng = np.random.default_rng(seed)
    (folder / "wav").mkdir(exist_ok=True)
    rows = []
    for n in range(count):
        text = " ".join(rng.choice(WORDS, size=int(rng.integers(2, 4))))
        speaker = "a" if n % 2 == 0 else "b"
        wave = tone_clip(text, 0.5 if speaker == "a" else 0.2)
        if stretch and n in stretch:
            wave = np.tile(wave, int(stretch[n]))
        path = f"wav/{name}_{n:03d}.wav"
        soundfile.write(folder / path, wave, RATE, subtype="PCM_16")
        rows.append({"text": text, "audio": path, "speaker": speaker})
    pd.DataFrame(rows).to_csv(folder / f"{name}.csv", index=False)
    return f"{name}.csv"


def tiny_config(**overrides) -> dict:
    config = {
        "task": "text_to_speech",
        "name": "tts",
        "data": {"train": "train.csv", "validation": "validation.csv", "test": "test.csv"},
        "front_end": {"type": "characters"},
        "audio": TINY_AUDIO,
        "model": TINY_MODEL,
        "evaluation": {"rows": 2, "whisper": False, "examples": 1},
        "trainer": {"epochs": 2, "batch_size": 8, "precision": "fp32"},
    }
    for key, value in overrides.items():
        config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
    return config
