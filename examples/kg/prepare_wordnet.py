"""Build a WordNet link-prediction graph from Debian's `wordnet-base` (WordNet 3.0 data files),
with the WN18RR relation types, for `examples/kg/wordnet.yaml`:

    apt-get install wordnet-base
    python examples/kg/prepare_wordnet.py            # -> examples/kg/data/wordnet/

Entities are the noun and verb synsets, named `<first lemma>.<n|v>.<offset>` (dog.n.02084071);
triples come from the synsets' pointers, one direction of each inverse pair as WN18RR keeps
them (hypernym but not hyponym, member meronym but not member holonym, ...; the symmetric ones,
derivationally related form, verb group and also see, in both directions). Entities in fewer
than `--min-degree` triples are dropped, repeatedly, until none is left (the 2-core by default:
WN18's own entity filter is not published in enough detail to repeat it).

Splits: validation and test get `--held-out` triples each, drawn with `--seed`. The two
directions of a symmetric pair always land in the same split, so a test triple is never
answered by its own reverse in training (WN18RR's known leak). A held-out triple whose entity
would be missing from training moves to training, so every entity is learned.

WordNet 3.0 is under the Princeton WordNet licence (free use, copies must carry it); the
data folder is git-ignored and rebuilt by this script, never committed.
"""

from __future__ import annotations

import argparse
import random
from collections import Counter
from pathlib import Path

RELATIONS = {  # WordNet pointer symbol -> WN18RR relation name
    "@": "_hypernym",
    "@i": "_instance_hypernym",
    "%m": "_member_meronym",
    "%p": "_has_part",
    ";c": "_synset_domain_topic_of",
    ";u": "_member_of_domain_usage",
    ";r": "_member_of_domain_region",
    "$": "_verb_group",
    "^": "_also_see",
    "+": "_derivationally_related_form",
    "&": "_similar_to",
}
SYMMETRIC = {"_verb_group", "_also_see", "_derivationally_related_form", "_similar_to"}
POS = {"noun": "n", "verb": "v"}

Triple = tuple[str, str, str]


def read_synsets(folder: Path) -> tuple[dict[str, str], set[Triple]]:
    """({synset key: entity name}, triples of synset keys) from folder/data.noun and data.verb.
    A synset key is offset + pos letter (02084071n), unique across the two files."""
    names: dict[str, str] = {}
    pointers: set[Triple] = set()
    for part, pos in POS.items():
        with open(folder / f"data.{part}", encoding="latin-1") as lines:
            for line in lines:
                if not line.startswith("  "):  # the licence header's lines start with spaces
                    key, name, found = _parse(line, pos)
                    names[key] = name
                    pointers |= found
    keep = {(h, r, t) for h, r, t in pointers if h in names and t in names and h != t}
    return names, keep


def _parse(line: str, pos: str) -> tuple[str, str, set[Triple]]:
    """One data line: `offset lex_file ss_type w_cnt (word lex_id)* p_cnt (symbol offset pos
    source/target)* ... | gloss` -> (key, name, its pointers to noun and verb synsets)."""
    fields = line.split(" | ", 1)[0].split()
    key = fields[0] + pos
    words = int(fields[3], 16)
    name = f"{fields[4].lower()}.{pos}.{fields[0]}"
    at = 4 + 2 * words
    count = int(fields[at])
    found = set()
    for i in range(at + 1, at + 1 + 4 * count, 4):
        symbol, offset, target_pos = fields[i], fields[i + 1], fields[i + 2]
        if symbol in RELATIONS and target_pos in ("n", "v"):
            found.add((key, RELATIONS[symbol], offset + target_pos))
    return key, name, found


def core(triples: set[Triple], min_degree: int) -> set[Triple]:
    """The triples left once every entity in fewer than `min_degree` of them is dropped,
    repeatedly (the k-core)."""
    while True:
        degree = Counter(e for h, _, t in triples for e in (h, t))
        kept = {x for x in triples if degree[x[0]] >= min_degree and degree[x[2]] >= min_degree}
        if len(kept) == len(triples):
            return kept
        triples = kept


def split(triples: set[Triple], held_out: int, seed: int) -> dict[str, list[Triple]]:
    """{train, valid, test}: `held_out` triples each (a symmetric pair counts as its members),
    both directions of a symmetric pair in one split, every held-out entity also in train."""
    groups: dict[Triple, list[Triple]] = {}
    for h, r, t in sorted(triples):
        anchor = (min(h, t), r, max(h, t)) if r in SYMMETRIC else (h, r, t)
        groups.setdefault(anchor, []).append((h, r, t))
    order = list(groups.values())
    random.Random(seed).shuffle(order)
    parts: dict[str, list[Triple]] = {"valid": [], "test": [], "train": []}
    for group in order:
        part = next((p for p in ("valid", "test") if len(parts[p]) < held_out), "train")
        parts[part].extend(group)
    trained = {e for h, _, t in parts["train"] for e in (h, t)}
    for part in ("valid", "test"):
        unseen = [x for x in parts[part] if x[0] not in trained or x[2] not in trained]
        parts[part] = [x for x in parts[part] if x not in set(unseen)]
        parts["train"].extend(unseen)
    return parts


def write(parts: dict[str, list[Triple]], names: dict[str, str], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for part, rows in parts.items():
        text = "".join(f"{names[h]}\t{r}\t{names[t]}\n" for h, r, t in rows)
        (folder / f"{part}.txt").write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data" / "wordnet")
    parser.add_argument("--min-degree", type=int, default=2)
    parser.add_argument("--held-out", type=int, default=3000, help="triples in valid and test")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not (args.wordnet / "data.noun").exists():
        parser.exit(2, f"error: no {args.wordnet / 'data.noun'}; apt-get install wordnet-base\n")
    names, triples = read_synsets(args.wordnet)
    triples = core(triples, args.min_degree)
    parts = split(triples, args.held_out, args.seed)
    write(parts, names, args.out)
    entities = {e for h, _, t in triples for e in (h, t)}
    relations = Counter(r for _, r, _ in triples)
    print(f"{len(entities)} entities, {len(triples)} triples, {len(relations)} relation types")
    for part, rows in parts.items():
        print(f"{args.out / part}.txt: {len(rows)} triples")
    print(relations.most_common())


if __name__ == "__main__":
    main()
