"""Synthesise connected digit strings and short spoken commands with espeak-ng; hold out voices.

Utterances: strings of 2-5 digits ("three one four") and short command phrases ("turn on the
light"). A voice is an espeak-ng accent with a voice variant, as in examples/spoken_digits;
the variants in VALIDATION_VARIANTS and TEST_VARIANTS are never heard in training, in any
accent. Each utterance gets its own random speed and pitch.

Layout::

    data/wav/<accent>+<variant>/<n>.wav
    data/train.csv, data/validation.csv, data/test.csv    columns audio, text, kind, voice
    data/test_digits.csv, data/test_commands.csv          the test split by kind
    data/real.csv, data/real.wav                          one real TIDIGITS recording, if installed

Needs the Debian package espeak-ng. Running it again does nothing when the tables exist
(use ``--force`` to rebuild).

Usage::

    python examples/speech_to_text/prepare.py [--out DIR] [--force]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_OUT = Path(__file__).resolve().parent / "data"
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
COMMANDS = [
    "turn on the light",
    "turn off the light",
    "open the door",
    "close the door",
    "play music",
    "stop the music",
    "volume up",
    "volume down",
    "what time is it",
    "go forward",
    "go back",
    "turn left",
    "turn right",
    "start the timer",
    "cancel the timer",
    "next song",
]
ACCENTS = [
    "en",
    "en-us",
    "en-gb-scotland",
    "en-gb-x-gbclan",
    "en-gb-x-rp",
    "en-gb-x-gbcwmd",
    "en-029",
    "en-us-nyc",
]
TRAIN_VARIANTS = ["m1", "m2", "m3", "m4", "m5", "f1", "f2", "f3", "klatt", "croak", "Andy"]
VALIDATION_VARIANTS = ["m6", "f4"]
TEST_VARIANTS = ["m7", "f5", "Annie"]
DIGIT_STRINGS, COMMAND_TAKES = 16, 8  # utterances of each kind per voice
# One real recording of a digit string (TIDIGITS, from Debian pocketsphinx-testdata): raw 16 kHz
# 16-bit mono PCM; "z" in the name is zero.
REAL = Path("/usr/share/pocketsphinx/test/data/tidigits/dhd.2934z.raw")
REAL_TEXT = "two nine three four zero"


def speak(text: str, voice: str, speed: int, pitch: int, path: Path) -> None:
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path), text],
        check=True,
        capture_output=True,
    )


def plan(seed: int = 0) -> pd.DataFrame:
    """One row per utterance: voice, text, kind, speed, pitch, split, audio path."""
    rng = np.random.default_rng(seed)
    splits = (
        [(v, "train") for v in TRAIN_VARIANTS]
        + [(v, "validation") for v in VALIDATION_VARIANTS]
        + [(v, "test") for v in TEST_VARIANTS]
    )
    rows = []
    for accent in ACCENTS:
        for variant, split in splits:
            texts = [
                (" ".join(rng.choice(DIGITS, size=rng.integers(2, 6))), "digits")
                for _ in range(DIGIT_STRINGS)
            ]
            texts += [(str(c), "commands") for c in rng.choice(COMMANDS, COMMAND_TAKES, False)]
            for n, (text, kind) in enumerate(texts):
                voice = f"{accent}+{variant}"
                rows.append(
                    {
                        "audio": f"wav/{voice}/{n}.wav",
                        "text": text,
                        "kind": kind,
                        "voice": voice,
                        "speed": int(rng.integers(130, 190)),
                        "pitch": int(rng.integers(25, 76)),
                        "split": split,
                    }
                )
    return pd.DataFrame(rows)


def write_real_recording(out: Path) -> None:
    """data/real.csv with the TIDIGITS clip as WAV, when pocketsphinx-testdata is installed."""
    import soundfile as sf

    if not REAL.is_file():
        return
    wave, rate = sf.read(REAL, samplerate=16000, channels=1, subtype="PCM_16", format="RAW")
    sf.write(out / "real.wav", wave, rate)
    pd.DataFrame([{"audio": "real.wav", "text": REAL_TEXT}]).to_csv(out / "real.csv", index=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    parser.add_argument("--force", action="store_true", help="rebuild existing data")
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("speech_to_text: needs espeak-ng (apt-get install espeak-ng)", file=sys.stderr)
        return 2
    if not args.force and (args.out / "test_commands.csv").is_file():
        print(f"speech_to_text: {args.out} is ready; nothing to do (--force rebuilds)")
        return 0

    start = time.perf_counter()
    utterances = plan()
    for voice in utterances["voice"].unique():
        (args.out / "wav" / voice).mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(
            pool.map(
                lambda r: speak(r.text, r.voice, r.speed, r.pitch, args.out / r.audio),
                utterances.itertuples(),
            )
        )
    columns = ["audio", "text", "kind", "voice"]
    for split, part in utterances.groupby("split"):
        part[columns].to_csv(args.out / f"{split}.csv", index=False)
    test = utterances[utterances["split"] == "test"]
    for kind, part in test.groupby("kind"):
        part[columns].to_csv(args.out / f"test_{kind}.csv", index=False)
    write_real_recording(args.out)
    counts = utterances.groupby(["split", "kind"]).size().unstack()
    print(
        f"speech_to_text: wrote {len(utterances)} utterances to {args.out} in {time.perf_counter() - start:.1f}s\n{counts}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
