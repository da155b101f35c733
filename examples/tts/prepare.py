"""Build a speech synthesis set: synthetic voices of Debian's espeak-ng reading sentences from
Jane Austen's novels (public domain; Debian's r-cran-janeaustenr).

THE VOICES ARE SYNTHETIC: every clip is espeak-ng's formant synthesiser, not a person. A model
trained here learns to imitate espeak-ng; its figures say nothing about natural human speech.

Sentences of 4 to 20 words are taken from the six novels, cleaned (italics marks, quotes,
brackets removed), de-duplicated and shuffled with the seed. Each sentence is read by one voice
(round robin over the training voices), at a speed and pitch drawn per clip from a narrow range.

Writes, under ``--out`` (default ``examples/tts/data``)::

    wav/<split>/00000.wav     mono 16-bit WAV at 22,050 Hz (espeak-ng's own rate)
    train.csv                 text,audio,speaker  (audio: path relative to the CSV's folder)
    validation.csv            held-out sentences, training voices
    test.csv                  held-out sentences, training voices
    test_voice.csv            held-out sentences read by a voice never heard in training

Running it again with the same arguments does nothing (``--force`` rebuilds).

Usage::

    python examples/tts/prepare.py [--train 2400] [--validation 100] [--test 200] [--seed 0]
                                   [--out DIR] [--force]

Needs ``sudo apt-get install espeak-ng`` and the janeaustenr package: either installed
(``sudo apt-get install r-cran-janeaustenr``) or its .deb (``apt-get download
r-cran-janeaustenr``) passed with ``--janeausten FILE.deb``; read with PyPI ``rdata``.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import gzip
import json
import lzma
import re
import shutil
import subprocess
import sys
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parent / "data"
INSTALLED = Path("/usr/lib/R/site-library/janeaustenr/data/Rdata")
NOVELS = [
    "emma",
    "mansfieldpark",
    "northangerabbey",
    "persuasion",
    "prideprejudice",
    "sensesensibility",
]
TRAIN_VOICES = ["en-us+f3", "en-us+m3", "en+f2", "en+m1"]
HELD_OUT_VOICE = "en-us+m5"
MIN_WORDS, MAX_WORDS = 4, 20


def read_rdata(prefix: Path) -> dict[str, list[str]]:
    """The novels' lines from R's lazy-load database `prefix`.rdx / .rdb."""
    import rdata

    def convert(raw: bytes):
        return rdata.conversion.convert(rdata.parser.parse_data(raw, expand_altrep=True))

    index = convert(gzip.decompress(prefix.with_suffix(".rdx").read_bytes()))
    database = prefix.with_suffix(".rdb").read_bytes()
    novels = {}
    for name in NOVELS:
        offset, length = (int(x) for x in index["variables"][name])
        blob = database[offset : offset + length]
        kind = blob[4:5]
        if kind == b"Z":
            raw = lzma.decompress(blob[5:])
        elif kind == b"2":
            raw = bz2.decompress(blob[5:])
        else:
            raw = zlib.decompress(blob[4:])
        novels[name] = [str(line) for line in convert(raw)]
    return novels


def sentences(lines: list[str]) -> list[str]:
    """Paragraphs joined, split into sentences, cleaned; only 4-20 words of plain letters."""
    text = " ".join(line.strip() or "\n" for line in lines)
    found = []
    for paragraph in text.split("\n"):
        for sentence in re.split(r"(?<=[.!?])\s+", paragraph):
            sentence = re.sub(r"[_\"“”‘’()\[\]]", "", sentence).replace("--", ", ")
            sentence = re.sub(r"\s+", " ", sentence).strip(" ,;:")
            words = sentence.split()
            if not MIN_WORDS <= len(words) <= MAX_WORDS:
                continue
            if not re.fullmatch(r"[A-Za-z][A-Za-z ,;:'.!?-]*[.!?]", sentence):
                continue
            if sentence.isupper():  # headings: CHAPTER I.
                continue
            found.append(sentence)
    return found


def speak(text: str, voice: str, speed: int, pitch: int, path: Path) -> None:
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path), text],
        check=True,
        capture_output=True,
    )


def write_split(out: Path, split: str, items: list[str], voices: list[str], seed: int) -> None:
    """Synthesize `items` (round robin over `voices`) and write `<split>.csv`."""
    rng = np.random.default_rng([seed, len(split)])
    folder = out / "wav" / split
    folder.mkdir(parents=True, exist_ok=True)
    jobs = []
    for n, text in enumerate(items):
        voice = voices[n % len(voices)]
        speed, pitch = int(rng.integers(150, 181)), int(rng.integers(40, 61))
        jobs.append((text, voice, speed, pitch, folder / f"{n:05d}.wav"))
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda job: speak(*job), jobs))
    with open(out / f"{split}.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "audio", "speaker"])
        for text, voice, _, _, path in jobs:
            writer.writerow([text, path.relative_to(out).as_posix(), voice])
    print(f"{split}: {len(items)} clips, voices {', '.join(voices)}", file=sys.stderr)


def source_prefix(deb: Path | None, scratch: Path) -> Path:
    if deb is None:
        return INSTALLED
    subprocess.run(["dpkg-deb", "-x", str(deb), str(scratch)], check=True)
    return scratch / str(INSTALLED).lstrip("/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=int, default=2400, help="training sentences")
    parser.add_argument("--validation", type=int, default=100, help="validation sentences")
    parser.add_argument("--test", type=int, default=200, help="test sentences (each test file)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--janeausten", type=Path, help="r-cran-janeaustenr .deb, if not installed")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--force", action="store_true", help="rebuild even if built")
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("error: espeak-ng not found: sudo apt-get install espeak-ng", file=sys.stderr)
        return 2
    if args.janeausten is None and not INSTALLED.with_suffix(".rdb").exists():
        print(
            "error: janeaustenr not found: sudo apt-get install r-cran-janeaustenr, or "
            "apt-get download r-cran-janeaustenr and pass --janeausten FILE.deb",
            file=sys.stderr,
        )
        return 2
    stamp = args.out / "built.json"
    wanted = {k: getattr(args, k) for k in ("train", "validation", "test", "seed")}
    if not args.force and stamp.exists() and json.loads(stamp.read_text()) == wanted:
        print(f"{args.out}: already built with these arguments (--force rebuilds)")
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        novels = read_rdata(source_prefix(args.janeausten, Path(scratch)))
    pool = sorted({s for lines in novels.values() for s in sentences(lines)})
    np.random.default_rng(args.seed).shuffle(pool)
    needed = args.train + args.validation + 2 * args.test
    if len(pool) < needed:
        print(f"error: only {len(pool)} sentences, {needed} asked for", file=sys.stderr)
        return 2
    cuts = np.cumsum([args.train, args.validation, args.test, args.test])
    train, validation, test, test_voice = np.split(np.array(pool[:needed]), cuts[:-1])
    args.out.mkdir(parents=True, exist_ok=True)
    write_split(args.out, "train", list(train), TRAIN_VOICES, args.seed)
    write_split(args.out, "validation", list(validation), TRAIN_VOICES, args.seed)
    write_split(args.out, "test", list(test), TRAIN_VOICES, args.seed)
    write_split(args.out, "test_voice", list(test_voice), [HELD_OUT_VOICE], args.seed)
    stamp.write_text(json.dumps(wanted))
    print(f"wrote {args.out} ({len(pool)} sentences available)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
