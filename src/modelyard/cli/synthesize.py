"""`synthesize RUN --text "..." [--speaker S] [--vocoder griffin_lim|VOCODER_RUN] --out
speech.wav`: speech from a text-to-speech run."""

from __future__ import annotations

from pathlib import Path


def add_synthesize(verbs) -> None:
    synthesize = verbs.add_parser(
        "synthesize",
        help="speech (a WAV file) from a text to speech run",
        description="Text -> log-mel frames (the run's acoustic model) -> audio (the vocoder) "
        "-> a 16-bit mono WAV at the run's sample rate.",
    )
    synthesize.add_argument(
        "run", help="run directory of a task: text_to_speech run (or its model/ folder)"
    )
    synthesize.add_argument("--text", required=True, help="what to say")
    synthesize.add_argument("--out", required=True, help="the WAV file to write")
    synthesize.add_argument("--speaker", help="a voice of the training data (default: the first)")
    synthesize.add_argument(
        "--vocoder",
        help="griffin_lim, or a task: vocoder run directory (default: the run's evaluation.vocoder)",
    )
    synthesize.add_argument(
        "--speed", type=float, default=1.0, help="pace: 1.0 as trained, 2.0 twice as fast"
    )
    synthesize.add_argument(
        "--unknown",
        choices=("error", "skip"),
        help="symbols outside the trained set: stop with an error naming them, or skip them "
        "(default: the run's front_end.unknown)",
    )
    synthesize.add_argument("--overwrite", action="store_true", help="replace --out if it exists")


def run_synthesize(args) -> int:
    import sys

    from modelyard.api import Model
    from modelyard.errors import UserError
    from modelyard.tts.vocoding import wav_bytes

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise UserError(f"--out '{out}' already exists; pass --overwrite to replace it")
    model = Model.load(args.run)
    if getattr(model.config, "task", None) != "text_to_speech":
        raise UserError(f"'{args.run}' is not a text to speech run (task: text_to_speech)")
    if args.unknown:
        model.front_end.unknown = args.unknown
    wave = model.synthesize(args.text, args.speaker, args.vocoder, args.speed)[0]
    out.write_bytes(wav_bytes(wave, model.scale.sample_rate))
    seconds = len(wave) / model.scale.sample_rate
    print(f"wrote {out} ({seconds:.2f} s at {model.scale.sample_rate} Hz)", file=sys.stderr)
    return 0
