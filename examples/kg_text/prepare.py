"""Labelled sentences for building a knowledge graph from text: dictionary definitions from
Debian's `dict-gcide` (Webster's 1913), labelled by the WordNet relations of Debian's
`wordnet-base` (distant supervision: neither source was written here, and they were written
independently of each other).

    apt-get install wordnet-base dict-gcide
    python examples/kg_text/prepare.py          # -> examples/kg_text/data/

For each GCIDE noun entry whose headword is a WordNet noun, every numbered sense becomes one
sentence, `<headword> : <first sentence of the definition>` ("sparrow : One of many species of
small singing birds ..."). Senses GCIDE copied from WordNet (marked `[WordNet 1.5]`) are left
out, so the text never restates the labels. A noun in the definition that WordNet relates to
the headword (its hypernym, a whole it is part or member of, ...) is a mention, found with
WordNet's own morphology (`morphy`: the exception lists, then the suffix rules):

- `mentions_<split>.csv`: tokens and BIO tags (the headword and its related mentions are
  `ENT`), for a `tags` model that finds the entities of a sentence;
- `relations_<split>.csv`: the sentence with entity markers `[E1] .. [/E1]`, `[E2] .. [/E2]`
  and the relation of E1 to E2 (hypernym, part_of, member_of, ...; `none` for a noun WordNet
  does not relate to the headword, and for each related pair read backwards), for a
  `category` model;
- `sentences_test.csv` and `gold_test.tsv`: the test sentences and the triples they state,
  to score `modelyard extract-triples` (bench/kg_construction.py).

Splits are by headword (80/10/10, `--seed`): test headwords never head a training sentence,
so the scores are on held-out entities. GCIDE is GPL-2+ and WordNet 3.0 is under the Princeton
WordNet licence; the data folder is git-ignored and rebuilt by this script, never committed.
"""

from __future__ import annotations

import argparse
import gzip
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from modelyard.extract.pipeline import marked, tokenize

RELATIONS = {  # WordNet pointer of the headword's synset -> relation of headword to target
    "@": "hypernym",
    "@i": "instance_of",
    "#p": "part_of",
    "#m": "member_of",
    "#s": "substance_of",
    "%p": "has_part",
    "%m": "has_member",
    "%s": "has_substance",
    "~": "hyponym",
}
PRIORITY = list(RELATIONS.values())  # a lemma reached by several pointers keeps the first
SUFFIXES = [("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch")]
SUFFIXES += [("shes", "sh"), ("men", "man"), ("ies", "y")]  # WordNet's morphy rules for nouns
_STOP = "a an the one any some of in on at by for with from to as or and which that this its it "
STOPWORDS = set(
    (_STOP + "his her their is are be been being was were used especially kind").split()
)
MAX_WORDS = 4  # the longest multiword lemma matched
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


# ------------------------------------------------------------ WordNet


@dataclass
class WordNet:
    synsets: dict[str, list[str]]  # noun lemma (spaces) -> synset offsets
    lemmas: dict[str, list[str]]  # synset offset -> its lemmas
    pointers: dict[str, list[tuple[str, str]]]  # synset -> (relation, noun synset)
    exceptions: dict[str, str]  # irregular plural -> lemma
    other_senses: Counter  # lemma -> senses as adjective, verb or adverb

    def morphy(self, word: str) -> str | None:
        """The noun lemma of `word` (lowercase, spaces), WordNet's way; None if none."""
        if self.exceptions.get(word) in self.synsets:
            return self.exceptions[word]
        if word in self.synsets:
            return word
        for suffix, ending in SUFFIXES:
            if word.endswith(suffix) and (base := word[: -len(suffix)] + ending) in self.synsets:
                return base
        return None

    def related(self, lemma: str) -> dict[str, str]:
        """{related noun lemma: relation of `lemma` to it} over every sense of `lemma`."""
        found: dict[str, str] = {}
        for synset in self.synsets.get(lemma, []):
            for relation, target in self.pointers.get(synset, []):
                for other in self.lemmas[target]:
                    if other != lemma and (
                        other not in found
                        or PRIORITY.index(relation) < PRIORITY.index(found[other])
                    ):
                        found[other] = relation
        return found

    def is_noun(self, lemma: str) -> bool:
        """A noun first: more noun senses than adjective, verb and adverb senses."""
        return lemma not in STOPWORDS and len(self.synsets[lemma]) >= self.other_senses[lemma]


def read_wordnet(folder: Path) -> WordNet:
    synsets, lemmas, pointers = {}, {}, {}
    for line in _lines(folder / "index.noun"):
        fields = line.split()
        count = int(fields[2])
        synsets[fields[0].replace("_", " ")] = fields[-count:]
    for line in _lines(folder / "data.noun"):
        fields = line.split(" | ", 1)[0].split()
        words = int(fields[3], 16)
        lemmas[fields[0]] = [
            re.sub(r"\(.*\)$", "", fields[4 + 2 * i]).replace("_", " ").lower()
            for i in range(words)
        ]
        at = 4 + 2 * words
        found = []
        for i in range(at + 1, at + 1 + 4 * int(fields[at]), 4):
            if fields[i] in RELATIONS and fields[i + 2] == "n":
                found.append((RELATIONS[fields[i]], fields[i + 1]))
        pointers[fields[0]] = found
    exceptions = {}
    for line in (folder / "noun.exc").read_text(encoding="latin-1").splitlines():
        parts = line.split()
        exceptions[parts[0].replace("_", " ")] = parts[1].replace("_", " ")
    other = Counter()
    for part in ("adj", "verb", "adv"):
        for line in _lines(folder / f"index.{part}"):
            fields = line.split()
            other[fields[0].replace("_", " ")] += int(fields[2])
    return WordNet(synsets, lemmas, pointers, exceptions, other)


def _lines(path: Path):
    with open(path, encoding="latin-1") as lines:
        yield from (line for line in lines if not line.startswith("  "))


# ------------------------------------------------------------ GCIDE


def read_gcide(folder: Path):
    """(headword, definition sentence) for every sense of every noun entry, WordNet-copied
    senses left out."""
    with gzip.open(folder / "gcide.dict.dz") as packed:
        data = packed.read()
    for line in (folder / "gcide.index").read_text(encoding="utf-8").splitlines():
        headword, offset, length = line.split("\t")
        start = _b64(offset)
        entry = data[start : start + _b64(length)].decode("utf-8", errors="replace")
        if _is_noun(entry):
            for sense in _senses(entry):
                yield headword, sense


def _b64(text: str) -> int:
    value = 0
    for char in text:
        value = value * 64 + B64.index(char)
    return value


def _is_noun(entry: str) -> bool:
    header = entry.split("[", 1)[0]
    return re.search(r"[\\)],? n\.(?:[\s,;]|$)", header) is not None


def _senses(entry: str) -> list[str]:
    """The first sentence of each definition block of an entry, cleaned of GCIDE's markup."""
    found = []
    for number, block in enumerate(re.split(r"\n\s*\n", entry)):
        raw = block.split("\n")
        if number > 0 and len(raw[0]) - len(raw[0].lstrip()) > 6:
            continue  # quotations and notes are indented further than definitions
        text = " ".join(line.strip() for line in raw)
        if "WordNet" in text or text.startswith(("Note:", "Syn.", "{")):
            continue
        text = re.sub(r"\[([^\[\]\s]{1,3})\]", lambda m: re.sub(r"[^a-z]", "", m.group(1)), text)
        if number == 0:  # drop the header: headword, pronunciation, part of speech, etymology
            text = re.sub(r"^.*?[\\)],? n\.\s*", "", text, count=1)
        text = re.sub(r"\[[^\]]*\]", " ", text)
        text = re.sub(r"^\s*\d+\.\s*", "", text)
        text = re.sub(r"\([A-Z][A-Za-z]*\.(?: [A-Za-z]+\.?)*\)", " ", text)
        text = re.sub(r"[{}]", "", text).split(" -- ")[0].split(" (a) ")[0]
        sentence = re.split(r"(?<=[a-z)])\.(?:\s|$)", text.strip(), maxsplit=1)[0].strip()
        if 3 <= len(sentence.split()) <= 40 and sentence[:1].isupper():
            found.append(sentence)
    return found


# ------------------------------------------------------------ labelled rows


def label(headword: str, definition: str, wordnet: WordNet, rng: random.Random):
    """(tokens, tags, relation rows, gold triples) of one sentence, or None when no noun of
    the definition is related to the headword."""
    lemma = wordnet.morphy(headword.lower())
    if lemma is None:
        return None
    related = wordnet.related(lemma)
    head = tokenize(headword)
    words = tokenize(definition)
    tokens = head + [":"] + words
    offset = len(head) + 1
    mentions = _mentions(words, wordnet)
    linked = [(s + offset, e + offset, related[m]) for s, e, m in mentions if m in related]
    if not linked:
        return None
    tags = ["O"] * len(tokens)
    for start, end, _ in [(0, len(head), ""), *linked]:
        tags[start:end] = ["B-ENT"] + ["I-ENT"] * (end - start - 1)
    head_span = (0, len(head))
    rows = []
    for start, end, relation in linked:
        rows.append((marked(tokens, head_span, (start, end)), relation))
        rows.append((marked(tokens, (start, end), head_span), "none"))
    unrelated = [(s + offset, e + offset) for s, e, m in mentions if m not in related]
    for span in rng.sample(unrelated, min(2, len(unrelated))):
        rows.append((marked(tokens, head_span, span), "none"))
    gold = [
        (" ".join(head), relation, " ".join(tokens[start:end])) for start, end, relation in linked
    ]
    return tokens, tags, rows, gold


def _mentions(words: list[str], wordnet: WordNet) -> list[tuple[int, int, str]]:
    """(start, end, lemma) of the nouns in `words`, longest match first, left to right."""
    found, at = [], 0
    while at < len(words):
        for size in range(min(MAX_WORDS, len(words) - at), 0, -1):
            phrase = [w.lower() for w in words[at : at + size]]
            last = wordnet.morphy(phrase[-1])
            lemma = wordnet.morphy(" ".join(phrase[:-1] + [last or phrase[-1]]))
            if lemma is not None and (size > 1 or wordnet.is_noun(lemma)):
                found.append((at, at + size, lemma))
                at += size
                break
        else:
            at += 1
    return found


def split_of(headword: str, seed: int) -> str:
    draw = random.Random(f"{seed}:{headword.lower()}").random()
    return "train" if draw < 0.8 else "validation" if draw < 0.9 else "test"


def build(wordnet: WordNet, senses, seed: int, out: Path) -> dict[str, int]:
    rng = random.Random(seed)
    tables = {name: [] for name in ("mentions", "relations", "sentences", "gold")}
    seen = set()
    for headword, definition in senses:
        if (headword.lower(), definition) in seen:
            continue
        seen.add((headword.lower(), definition))
        labelled = label(headword, definition, wordnet, rng)
        if labelled is None:
            continue
        tokens, tags, rows, gold = labelled
        split = split_of(headword, seed)
        sentence_id = len(seen)
        tables["mentions"].append((split, sentence_id, " ".join(tokens), " ".join(tags)))
        tables["relations"] += [(split, sentence_id, text, rel) for text, rel in rows]
        if split == "test":
            tables["sentences"].append((sentence_id, " ".join(tokens)))
            tables["gold"] += [(sentence_id, *triple) for triple in gold]
    return _write(tables, out)


def _write(tables, out: Path) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    mentions = pd.DataFrame(tables["mentions"], columns=["split", "id", "tokens", "tags"])
    relations = pd.DataFrame(tables["relations"], columns=["split", "id", "text", "relation"])
    for split in ("train", "validation", "test"):
        for name, frame in (("mentions", mentions), ("relations", relations)):
            part = frame[frame["split"] == split].drop(columns="split")
            part.to_csv(out / f"{name}_{split}.csv", index=False)
            counts[f"{name}_{split}"] = len(part)
    pd.DataFrame(tables["sentences"], columns=["id", "text"]).to_csv(
        out / "sentences_test.csv", index=False
    )
    gold = pd.DataFrame(tables["gold"], columns=["id", "head", "relation", "tail"])
    gold.to_csv(out / "gold_test.tsv", sep="\t", index=False)
    counts["gold_test"] = len(gold)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"))
    parser.add_argument("--gcide", type=Path, default=Path("/usr/share/dictd"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for needed, package in ((args.wordnet / "data.noun", "wordnet-base"),):
        if not needed.exists():
            parser.exit(2, f"error: no {needed}; apt-get install {package}\n")
    if not (args.gcide / "gcide.index").exists():
        parser.exit(2, f"error: no {args.gcide / 'gcide.index'}; apt-get install dict-gcide\n")
    counts = build(read_wordnet(args.wordnet), read_gcide(args.gcide), args.seed, args.out)
    for name, count in counts.items():
        print(f"{name}: {count} rows")
    relations = pd.read_csv(args.out / "relations_train.csv")["relation"].value_counts()
    print(relations.to_string())


if __name__ == "__main__":
    main()
