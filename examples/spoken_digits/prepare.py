"""Synthesise the spoken digits zero..nine with espeak-ng in many voices; hold out whole voices.

A voice is an espeak-ng accent (en-gb, en-us, en-gb-scotland, ...) with a voice variant
(+m1..+m7, +f1..+f5, +klatt, ...). Each voice says each digit twice, at a random speed and
pitch. The variants listed in TEST_VARIANTS and VALIDATION_VARIANTS never occur in training,
in any accent, so the test split measures recognition of voices the model has not heard.

Layout::

    data/clips/<accent>+<variant>/<digit>_<k>.wav     16-bit PCM as espeak-ng writes it (22.05 kHz)
    data/train.csv, data/validation.csv, data/test.csv  columns clip (relative path), digit, voice

Needs the Debian package espeak-ng. Running it again does nothing when the tables exist
(use ``--force`` to rebuild).

Usage::

    python examples/spoken_digits/prepare.py [--out DIR] [--force]
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
TAKES = 2  # renditions of each digit per voice, each at its own speed and pitch


def speak(text: str, voice: str, speed: int, pitch: int, path: Path) -> None:
    """One espeak-ng utterance written as WAV."""
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path), text],
        check=True,
        capture_output=True,
    )


def plan(seed: int = 0) -> pd.DataFrame:
    """One row per clip: voice, digit, take, speed, pitch, split."""
    rng = np.random.default_rng(seed)
    splits = (
        [(v, "train") for v in TRAIN_VARIANTS]
        + [(v, "validation") for v in VALIDATION_VARIANTS]
        + [(v, "test") for v in TEST_VARIANTS]
    )
    rows = [
        {
            "voice": f"{accent}+{variant}",
            "digit": digit,
            "take": take,
            "speed": int(rng.integers(120, 200)),
            "pitch": int(rng.integers(25, 76)),
            "split": split,
        }
        for accent in ACCENTS
        for variant, split in splits
        for digit in DIGITS
        for take in range(TAKES)
    ]
    frame = pd.DataFrame(rows)
    frame["clip"] = [f"clips/{r.voice}/{r.digit}_{r.take}.wav" for r in frame.itertuples()]
    return frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    parser.add_argument("--force", action="store_true", help="rebuild existing data")
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("spoken_digits: needs espeak-ng (apt-get install espeak-ng)", file=sys.stderr)
        return 2
    tables = [args.out / f"{s}.csv" for s in ("train", "validation", "test")]
    if not args.force and all(t.is_file() for t in tables):
        print(f"spoken_digits: {args.out} is ready; nothing to do (--force rebuilds)")
        return 0

    start = time.perf_counter()
    clips = plan()
    for voice in clips["voice"].unique():
        (args.out / "clips" / voice).mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(
            pool.map(
                lambda r: speak(r.digit, r.voice, r.speed, r.pitch, args.out / r.clip),
                clips.itertuples(),
            )
        )
    for split, part in clips.groupby("split"):
        part[["clip", "digit", "voice"]].to_csv(args.out / f"{split}.csv", index=False)
    counts = clips.groupby("split").agg(clips=("clip", "size"), voices=("voice", "nunique"))
    print(
        f"spoken_digits: wrote {len(clips)} clips to {args.out} in {time.perf_counter() - start:.1f}s\n{counts}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
