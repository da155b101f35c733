"""Build English -> Spanish verse pairs from the installed Debian Bibles (public domain).

Sources (nothing is downloaded): ``sword-text-kjv`` (King James Version, module
engKJV2006eb), ``sword-text-sparv`` (Reina-Valera 1909, module spaRV1909eb), exported with
``mod2imp`` from ``libsword-utils``. ``mod2imp MODULE -s`` prints ``$$$Book C:V`` keys, each
followed by the verse text; the two Bibles are joined on these keys.

Cleaning: Strong's numbers (``<H1234>``, ``<G1234>``) and the KJV's paragraph marks ``¶`` are
removed, whitespace is collapsed, and a verse's all-capital first word (``EN el principio``)
is written as a capitalised word (``En``). Pairs whose English side has more than
``--max-words`` words are left out (shorter verses keep training within minutes on 2 cores).

Split, fixed (no randomness): of the kept pairs in canonical order, every 50th (position
0, 50, 100, ...) is test, every 50th from position 25 is validation, the rest is training.

Outputs under ``--out`` (default ``data/`` beside this script): ``train.csv``,
``validation.csv``, ``test.csv`` with columns ``id`` (``Book C:V``), ``english``, ``spanish``.

Usage::

    python examples/translation/prepare.py [--out DIR] [--max-words 24]
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
from pathlib import Path

MODULES = {"english": "engKJV2006eb", "spanish": "spaRV1909eb"}
EVERY = 50  # one verse in 50 for test, another one in 50 for validation


def export(module: str) -> dict[str, str]:
    """{'Book C:V': raw verse text} in canonical order, from `mod2imp MODULE -s`."""
    try:
        text = subprocess.run(
            ["mod2imp", module, "-s"], capture_output=True, text=True, check=True
        ).stdout
    except FileNotFoundError as error:
        raise SystemExit(
            "mod2imp not found: sudo apt-get install libsword-utils sword-text-kjv sword-text-sparv"
        ) from error
    verses: dict[str, str] = {}
    key = None
    for line in text.splitlines():
        if line.startswith("$$$"):
            key = line[3:].strip()
            verses[key] = ""
        elif key is not None:
            verses[key] = f"{verses[key]} {line}"
    if not verses:
        raise SystemExit(
            f"mod2imp printed no verses for {module}: is its sword-text package installed?"
        )
    return verses


def clean(text: str) -> str:
    text = re.sub(r"<[GH]\d+>", " ", text).replace("¶", " ")
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"^([A-ZÁÉÍÓÚÑ])([A-ZÁÉÍÓÚÑ]+)\b", lambda m: m[1] + m[2].lower(), text)


def pairs(max_words: int) -> list[tuple[str, str, str]]:
    english, spanish = (export(MODULES[side]) for side in ("english", "spanish"))
    kept = []
    for key, raw in english.items():
        if key.endswith(":0") or key not in spanish or "[" in key:
            continue  # book and chapter introductions, module headings
        source, target = clean(raw), clean(spanish[key])
        if source and target and len(source.split()) <= max_words:
            kept.append((key, source, target))
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data")
    parser.add_argument("--max-words", type=int, default=24)
    args = parser.parse_args()
    rows = pairs(args.max_words)
    splits: dict[str, list] = {"train": [], "validation": [], "test": []}
    for position, row in enumerate(rows):
        place = position % EVERY
        splits["test" if place == 0 else "validation" if place == EVERY // 2 else "train"].append(
            row
        )
    args.out.mkdir(parents=True, exist_ok=True)
    for name, split in splits.items():
        with open(args.out / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "english", "spanish"])
            writer.writerows(split)
        print(f"{name}: {len(split)} verse pairs -> {args.out / f'{name}.csv'}")


if __name__ == "__main__":
    main()
