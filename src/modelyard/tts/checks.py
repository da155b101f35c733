"""Cross-field rules of `task: text_to_speech` configs (config/checks.py runs them) and
`modelyard validate`'s data check."""

from __future__ import annotations

from pathlib import Path


def early_stopping_metric(config) -> list[str]:
    stopping = config.trainer.early_stopping
    known = ("loss", "mel_l1", "prior", "duration")
    if stopping is not None and stopping.metric not in known:
        return [
            f"trainer.early_stopping.metric: text to speech measures {', '.join(known)} on "
            f"validation after each epoch, not '{stopping.metric}'"
        ]
    return []


def mel_fits(config) -> list[str]:
    a = config.audio
    window = round(a.window_ms * a.sample_rate / 1000)
    hop = round(a.hop_ms * a.sample_rate / 1000)
    if hop > window:
        return [
            f"audio.hop_ms {a.hop_ms} is longer than window_ms {a.window_ms}: frames would skip audio; use a hop at most the window"
        ]
    if a.n_mels > (1 << (window - 1).bit_length()) // 2:
        return [
            f"audio.n_mels {a.n_mels}: more mel bands than frequency bins of a {a.window_ms} ms window; use fewer bands or a longer window"
        ]
    return []


def attention_heads(config) -> list[str]:
    m = config.model
    if m.attention_layers and m.dim % m.heads:
        return [f"model.heads {m.heads} must divide model.dim {m.dim}"]
    return []


CHECKS = [early_stopping_metric, mel_fits, attention_heads]


def check_clips(config, base: Path) -> list[str]:
    """`modelyard validate`: read every split's table and text as training would (the audio
    lengths are checked when training reads the files)."""
    from modelyard.tts.model import Synthesizer

    synth = Synthesizer(config, base)
    lines = []
    for name, (_, frame) in synth._tables().items():
        from modelyard.tts import data

        data.require_columns(frame, config.data.columns, f"{name} data")
        if name == "train":
            synth.speakers = data.speaker_names(frame, config.data.columns.speaker)
        texts = [t if isinstance(t, str) else "" for t in frame[config.data.columns.text]]
        for n, text in enumerate(texts):
            if not text.strip():
                from modelyard.errors import UserError

                raise UserError(
                    f"{name} data row {n + 1}: the text is empty; give something to say or remove the row"
                )
        lines.append(f"{name}: {len(frame)} rows")
    return lines
