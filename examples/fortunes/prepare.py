"""Build the "topic of a Debian fortune" classification set and a pretraining corpus.

Sources (all read from installed Debian packages, nothing is downloaded):

* ``fortunes`` (``sudo apt-get install fortunes``): ``/usr/share/games/fortunes/<category>``,
  entries separated by a line holding ``%``. The ``.dat``/``.u8`` index files, any
  ``off/`` (offensive) folder and the ``ascii-art`` category (pictures, not text) are
  skipped. Required.
* ``python3-doc`` (``sudo apt-get install python3-doc``): the reStructuredText sources of
  the Python documentation, ``/usr/share/doc/python3*/html/_sources/**/*.txt``. Only
  prose paragraphs are kept (code blocks, directives, headings, tables are dropped;
  inline roles such as ``:func:`len``` become ``len``). Optional.
* ``dict-gcide`` (``sudo apt-get install dict-gcide``): The Collaborative International
  Dictionary of English (Webster 1913 + WordNet, GPL), ``/usr/share/dictd/gcide.dict.dz``
  (gzip'd dictd text). Each definition becomes one line ``Headword: definition``;
  pronunciations, source tags such as ``[1913 Webster]`` and braces are removed. A
  fixed, evenly spaced subset of the entries is kept so that the whole corpus is about
  ``--corpus-mb`` MB. Optional.

Outputs (under ``--out``, default ``data/`` beside this script)::

    fortunes.csv          columns text,topic,split  (split: train / validation / test)
    test.csv              the test rows of fortunes.csv alone (for evaluate, compress, benchmarks)
    corpus/fortunes.txt   one fortune per line: every category, minus the
                          validation and test entries of fortunes.csv and any line
                          that contains one or is part of one (no leakage)
    corpus/python_docs.txt
    corpus/gcide.txt

The classification task uses the categories in ``TOPICS``. An entry's whitespace is
collapsed to single spaces; entries shorter than 20 or longer than 600 characters are
dropped, and so are exact duplicates (a text found under two chosen topics is dropped
altogether). The split is stratified 70/15/15 per topic with a fixed seed.

The script is deterministic: running it again rewrites the same files, byte for byte.

Usage::

    python examples/fortunes/prepare.py [--out DIR] [--corpus-mb 8]

The fortunes are from the Debian ``fortunes`` package (BSD-style and public-domain
quotations, see ``/usr/share/doc/fortunes/copyright``); nothing here is committed.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import glob
import gzip
import random
import re
import sys
from collections import Counter
from pathlib import Path

FORTUNES_DIR = Path("/usr/share/games/fortunes")
PYDOC_GLOB = "/usr/share/doc/python3*/html/_sources"
GCIDE_PATH = Path("/usr/share/dictd/gcide.dict.dz")
DEFAULT_OUT = Path(__file__).resolve().parent / "data"

TOPICS = ["computers", "politics", "science", "law", "food", "sports"]
SKIP_CATEGORIES = {"ascii-art"}
MIN_CHARS, MAX_CHARS = 20, 600
SPLIT_FRACTIONS = (("train", 0.70), ("validation", 0.15), ("test", 0.15))
SEED = 20240613

_OVERSTRIKE = re.compile(r".\x08")  # "_\bX" (underline) and "X\bX" (bold) in old fortunes
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACE = re.compile(r"\s+")


# ---------------------------------------------------------------------------- fortunes
def fix_mojibake(text: str) -> str:
    """Undo UTF-8 read as Latin-1 (possibly several times), e.g. ``donÃ¢Â\\x80Â\\x99t``."""
    for _ in range(4):
        if "Ã" not in text and "â\x80" not in text:
            break
        try:
            text = text.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            break
    return text


def normalise(text: str) -> str:
    text = _OVERSTRIKE.sub("", fix_mojibake(text))
    text = _CONTROL.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def fortune_categories(source: Path) -> list[Path]:
    files = [
        p
        for p in sorted(source.iterdir())
        if p.is_file() and p.suffix == "" and p.name not in SKIP_CATEGORIES
    ]
    return files


def read_fortunes(path: Path) -> list[str]:
    """The entries of one fortune file, whitespace-normalised, empty ones dropped."""
    raw = path.read_bytes().decode("utf-8", errors="replace")
    entries, current = [], []
    for line in raw.splitlines():
        if line.strip() == "%":
            entries.append("\n".join(current))
            current = []
        else:
            current.append(line)
    entries.append("\n".join(current))
    return [t for t in (normalise(e) for e in entries) if t]


def build_classification(by_category: dict[str, list[str]]) -> list[dict[str, str]]:
    owners: dict[str, set[str]] = {}
    for topic in TOPICS:
        for text in by_category[topic]:
            if MIN_CHARS <= len(text) <= MAX_CHARS:
                owners.setdefault(text, set()).add(topic)
    rows = []
    rng = random.Random(SEED)
    for topic in TOPICS:
        texts = sorted(t for t, o in owners.items() if o == {topic})
        rng.shuffle(texts)
        n = len(texts)
        n_train = round(SPLIT_FRACTIONS[0][1] * n)
        n_val = round(SPLIT_FRACTIONS[1][1] * n)
        for i, text in enumerate(texts):
            split = "train" if i < n_train else "validation" if i < n_train + n_val else "test"
            rows.append({"text": text, "topic": topic, "split": split})
    return rows


# ----------------------------------------------------------------------- python docs
_ROLE = re.compile(r":[\w:.-]+:`!?~?([^`<]*?)(?:\s*<[^>]*>)?`")  # :func:`len` -> len
_LINK = re.compile(r"`([^`<]+?)\s*<[^>]*>`_{1,2}")  # `text <url>`_ -> text
_LITERAL = re.compile(r"``(.+?)``")
_REFNAME = re.compile(r"`([^`]+)`_{0,2}")
_HEADING = re.compile(r"^([=\-~^*#+\"'`.:_])\1{2,}\s*$")
_FOOTREF = re.compile(r"\s*\[#?\w*\]_")


def rst_inline(text: str) -> str:
    text = _ROLE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _LITERAL.sub(r"\1", text)
    text = _REFNAME.sub(r"\1", text)
    text = _FOOTREF.sub("", text)
    text = text.replace("\\ ", "").replace("**", "").replace("|", "")
    return _SPACE.sub(" ", text).strip()


def rst_paragraphs(raw: str) -> list[str]:
    """Prose paragraphs of one reST file: code, directives, headings and tables dropped."""
    blocks: list[list[str]] = [[]]
    for line in raw.splitlines():
        if line.strip():
            blocks[-1].append(line.rstrip())
        elif blocks[-1]:
            blocks.append([])
    out = []
    skip_deeper_than = None  # indent of a "::" paragraph or a directive: deeper blocks are code
    for block in blocks:
        if not block:
            continue
        indent = len(block[0]) - len(block[0].lstrip())
        if skip_deeper_than is not None:
            if indent > skip_deeper_than:
                continue
            skip_deeper_than = None
        first = block[0].strip()
        if first.startswith(".."):
            # a directive's own content (e.g. "note", "versionadded") is prose, but code-ish
            # directives and comments are not: treat every directive body as skipped.
            skip_deeper_than = indent
            continue
        if block[-1].rstrip().endswith("::"):
            skip_deeper_than = indent
        if any(_HEADING.match(line.strip()) for line in block):
            continue
        if first.startswith((">>>", "+", "|", "*", "-", "#", "=", ":")):
            continue
        text = rst_inline(" ".join(line.strip() for line in block))
        if text.endswith("::"):
            text = text[:-1]
        words = text.split()
        letters = sum(c.isalpha() or c == " " for c in text)
        if (
            len(words) >= 8
            and letters >= 0.85 * len(text)
            and text[-1] in ".:?!)"
            and text[0].isupper()
        ):
            out.append(text)
    return out


def python_docs_lines() -> tuple[list[str], str | None]:
    roots = sorted({str(Path(p).resolve()) for p in glob.glob(PYDOC_GLOB)})
    if not roots:
        return [], None
    root = Path(roots[0])
    lines = []
    for path in sorted(root.rglob("*.txt")):
        if "whatsnew" in path.parts or "changelog" in path.name:
            continue  # long lists of change notes, not prose
        lines.extend(rst_paragraphs(path.read_text(encoding="utf-8", errors="replace")))
    return lines, str(root)


# ----------------------------------------------------------------------------- GCIDE
_PRON = re.compile(r"\\[^\\\n]*\\")  # \Co*ag"u*late\
_SRC_TAG = re.compile(r"\[(?:1913 Webster|Webster 1913 Suppl\.|WordNet [\d.]+|PJC|[A-Z]{2,3})\]")
_BRACES = re.compile(r"[{}]")
_CITE = re.compile(r"\s--[A-Z][\w.]*(?: [A-Z][\w.]*)?\.?")  # --Shak. --Boyle.
_ACCENT = re.compile(r"\[[=\-^~.'`\"]?([a-zA-Z]{1,3})[=\-^~.'`\"]?\]")  # [e^] [=u] [ae] -> e u ae
_BRACKETS = re.compile(r"\s*\[[^\[\]]*\]")  # etymologies, [Obs.]
_PARENS_PRON = re.compile(r"\s*\([^()]*[?`\[\]][^()]*\)")  # (l[e^]st), (?; 135)
_UNKNOWN = re.compile(r"\S*\?\?+\S*")  # Greek etc. that the dictd file lost as "???"


def gcide_lines() -> list[str]:
    """One ``Headword: sense`` line per numbered sense of every GCIDE entry."""
    with gzip.open(GCIDE_PATH, "rt", encoding="utf-8", errors="replace") as f:
        raw = f.read()
    lines = []
    # entries start with an unindented line; the header blocks start with "00-database"
    for entry in re.split(r"\n(?=\S)", raw):
        head, _, body = entry.partition("\n")
        if head.startswith("00-") or not body.strip():
            continue
        word = re.split(r"[\\(,]", head)[0].strip()
        if not word or not word[0].isalpha():
            continue
        for para in re.split(r"\n\s*\n", head + "\n" + body):
            text = _PRON.sub("", para)
            text = _PARENS_PRON.sub("", text)
            text = _SRC_TAG.sub("", text)
            text = _ACCENT.sub(r"\1", text)
            text = _BRACKETS.sub("", text)
            text = _UNKNOWN.sub("", text)
            text = _CITE.sub("", text)
            text = _BRACES.sub("", text).replace('"', "").replace("*", "")
            text = _SPACE.sub(" ", text).strip()
            if text.startswith(word):
                text = text[len(word) :].lstrip(" ,")
            text = re.sub(r"^\d+\.\s*", "", text)
            if len(text.split()) >= 5 and not text.startswith(("Syn:", "Note:")):
                lines.append(f"{word}: {text}")
    return lines


# ------------------------------------------------------------------------------ main
def write_lines(path: Path, lines: list[str]) -> tuple[int, int]:
    data = "".join(line + "\n" for line in lines)
    path.write_text(data, encoding="utf-8")
    return len(lines), len(data.encode("utf-8"))


def dedupe(lines: list[str], seen: set[str]) -> list[str]:
    out = []
    for line in lines:
        if line not in seen:
            seen.add(line)
            out.append(line)
    return out


def drop_overlapping(lines: list[str], held_out: set[str]) -> list[str]:
    """Drop lines that contain a held-out text, or (20+ characters) are part of one.

    Catches near-duplicates such as a held-out "Never eat anything bigger than your
    head." inside another category's "Kliban's First Law of Dining: Never eat ...".
    """
    joined = "\n".join(lines)
    starts, pos = [], 0
    for line in lines:
        starts.append(pos)
        pos += len(line) + 1
    bad: set[int] = set()
    for text in held_out:
        i = joined.find(text)
        while i != -1:
            bad.add(bisect.bisect_right(starts, i) - 1)
            i = joined.find(text, i + 1)
    held_joined = "\n".join(sorted(held_out))
    return [
        line
        for k, line in enumerate(lines)
        if k not in bad and not (len(line) >= MIN_CHARS and line in held_joined)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--corpus-mb", type=float, default=8.0, help="target corpus size")
    args = parser.parse_args(argv)

    if not FORTUNES_DIR.is_dir() or not all((FORTUNES_DIR / t).is_file() for t in TOPICS):
        print(
            f"error: Debian fortunes not found in {FORTUNES_DIR}.\n"
            "Install them with:  sudo apt-get install fortunes\n"
            "(optional, for a larger corpus: sudo apt-get install python3-doc dict-gcide)",
            file=sys.stderr,
        )
        return 2

    out: Path = args.out
    (out / "corpus").mkdir(parents=True, exist_ok=True)

    by_category = {p.name: read_fortunes(p) for p in fortune_categories(FORTUNES_DIR)}
    rows = build_classification(by_category)
    with open(out / "fortunes.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["text", "topic", "split"])
        writer.writeheader()
        writer.writerows(rows)
    with open(out / "test.csv", "w", newline="", encoding="utf-8") as f:  # for evaluate / compress
        writer = csv.DictWriter(f, fieldnames=["text", "topic", "split"])
        writer.writeheader()
        writer.writerows(r for r in rows if r["split"] == "test")
    counts = Counter((r["topic"], r["split"]) for r in rows)
    print(f"wrote {out / 'fortunes.csv'}: {len(rows)} rows")
    print(f"  {'topic':<10} {'train':>6} {'validation':>10} {'test':>5}")
    for topic in TOPICS:
        c = [counts[(topic, s)] for s, _ in SPLIT_FRACTIONS]
        print(f"  {topic:<10} {c[0]:>6} {c[1]:>10} {c[2]:>5}")

    held_out = {r["text"] for r in rows if r["split"] != "train"}
    seen: set[str] = set(held_out)  # held-out texts never enter the corpus
    budget = int(args.corpus_mb * 1e6)
    written = []

    fortunes = dedupe([t for name in sorted(by_category) for t in by_category[name]], seen)
    n_before = len(fortunes)
    fortunes = drop_overlapping(fortunes, held_out)
    print(f"  {n_before - len(fortunes)} fortunes overlapping a held-out entry left out")
    written.append(("fortunes.txt", *write_lines(out / "corpus" / "fortunes.txt", fortunes)))
    src = f"{len(by_category)} categories of {FORTUNES_DIR}"
    sources = [src]

    pydoc, pydoc_root = python_docs_lines()
    pydoc_path = out / "corpus" / "python_docs.txt"
    if pydoc:
        pydoc = drop_overlapping(dedupe(pydoc, seen), held_out)
        written.append(("python_docs.txt", *write_lines(pydoc_path, pydoc)))
        sources.append(f"prose paragraphs of {pydoc_root}")
    else:
        pydoc_path.unlink(missing_ok=True)
        print("note: python3-doc not installed; corpus/python_docs.txt skipped")

    gcide_path = out / "corpus" / "gcide.txt"
    if GCIDE_PATH.is_file():
        gcide = dedupe(gcide_lines(), seen)
        left = budget - sum(w[2] for w in written)
        total = sum(len(line.encode("utf-8")) + 1 for line in gcide)
        if left > 0 and total > left:  # evenly spaced subset, in dictionary order
            step = total / left
            gcide = [gcide[int(i * step)] for i in range(int(len(gcide) / step))]
        elif left <= 0:
            gcide = []
        gcide = drop_overlapping(gcide, held_out)
        written.append(("gcide.txt", *write_lines(gcide_path, gcide)))
        sources.append(f"subset of {GCIDE_PATH} ({len(gcide)} senses)")
    else:
        gcide_path.unlink(missing_ok=True)
        print("note: dict-gcide not installed; corpus/gcide.txt skipped")

    for name, n_lines, n_bytes in written:
        print(f"wrote {out / 'corpus' / name}: {n_lines} lines, {n_bytes / 1e6:.2f} MB")
    n_lines = sum(w[1] for w in written)
    n_bytes = sum(w[2] for w in written)
    print(f"corpus: {n_lines} lines, {n_bytes / 1e6:.2f} MB from " + "; ".join(sources))
    return 0


if __name__ == "__main__":
    sys.exit(main())
