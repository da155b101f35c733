"""report.html's listening section: for a few held-out sentences, the synthesized and the
original audio (players; WAV files in <run>/audio/) and their log-mel spectrograms."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

AUDIO_DIR = "audio"


def add_listening(report: Path, details: dict[str, Any]) -> None:
    """Insert the section into `report` (report.html) before </body>."""
    examples = details.get("examples") or []
    if not examples:
        return
    from modelyard.tts.vocoding import wav_bytes

    rate = details["sample_rate"]
    folder = report.parent / AUDIO_DIR
    folder.mkdir(exist_ok=True)
    parts = [
        "<section><h2>Listening: held-out sentences</h2>",
        "<p>Synthetic voices: the originals are espeak-ng, not people.</p>",
    ]
    for n, ex in enumerate(examples, 1):
        for kind in ("synthesized", "original"):
            (folder / f"{n:02d}_{kind}.wav").write_bytes(wav_bytes(ex[kind], rate))
        parts.append(
            f"<h3>{html.escape(ex['row'])}</h3><p>{html.escape(ex['text'])}</p>"
            + (
                f"<p>Whisper heard: <i>{html.escape(ex['whisper'])}</i></p>"
                if ex["whisper"]
                else ""
            )
            + f"<p>synthesized <audio controls src='{AUDIO_DIR}/{n:02d}_synthesized.wav'></audio> "
            f"original <audio controls src='{AUDIO_DIR}/{n:02d}_original.wav'></audio></p>"
            f"<img alt='log-mel spectrograms' src='data:image/png;base64,{_spectrograms(ex)}'>"
        )
    parts.append("</section>")
    page = report.read_text(encoding="utf-8")
    at = page.rfind("</body>")
    at = len(page) if at < 0 else at
    report.write_text(page[:at] + "\n".join(parts) + page[at:], encoding="utf-8")


def _spectrograms(example: dict[str, Any]) -> str:
    """A PNG (base64) of the synthesized (predicted) and the reference log-mel, one above the other."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(8, 4.5), sharex=True)
    for ax, key, title in (
        (axes[0], "mel", "predicted log-mel"),
        (axes[1], "reference_mel", "original log-mel"),
    ):
        ax.imshow(example[key], origin="lower", aspect="auto", vmin=-14, vmax=4, cmap="magma")
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("mel band")
    axes[1].set_xlabel("frame")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()
