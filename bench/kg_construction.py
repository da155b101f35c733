"""Knowledge-graph construction from text, scored on held-out entities: precision and recall of
the triples `modelyard extract-triples` finds in the test definitions of
examples/kg_text/prepare.py (headwords never seen in training), against two baselines on the
same sentences:

- patterns: "a kind / sort / type / species / variety of X" -> hypernym X, "a part of X" ->
  part_of X, "a member of X" -> member_of X (the pattern matching the issue names);
- genus: the first noun of the definition is the headword's hypernym (the "genus term"
  heuristic of dictionary-based taxonomy induction, Chodorow et al. 1985), nouns found with the
  same WordNet lexicon and morphology prepare.py uses.

A triple counts when (sentence, head, relation, tail) equals a gold one after canonical naming
(modelyard.extract.pipeline.canonical). Gold triples are the WordNet relations a definition
states in words, so a correct triple WordNet lacks counts as wrong: precision is a lower bound.

    python examples/kg_text/prepare.py
    modelyard train examples/kg_text/mentions.yaml && modelyard train examples/kg_text/relations_bow.yaml
    python bench/kg_construction.py --entities runs/kg_text_mentions --relations runs/kg_text_relations_bow
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import time
from pathlib import Path

import pandas as pd

from modelyard.extract.pipeline import canonical, tokenize

DATA = Path(__file__).parents[1] / "examples" / "kg_text" / "data"
PATTERNS = {
    "hypernym": r"\b(?:a|an|any|one) (?:kind|sort|type|species|variety) of (?:the |a |an )?",
    "part_of": r"\ba part of (?:the |a |an )?",
    "member_of": r"\ba member of (?:the |a |an )?",
}
STOP = re.compile(r"\b(?:of|in|with|that|which|from|for|or|and|by|to|having|used)\b|[,;:.()]")


def pattern_baseline(sentences: pd.DataFrame) -> set[tuple]:
    found = set()
    for row in sentences.itertuples(index=False):
        head, definition = row.text.split(" : ", 1)
        for relation, pattern in PATTERNS.items():
            for match in re.finditer(pattern, definition, flags=re.IGNORECASE):
                phrase = STOP.split(definition[match.end() :], maxsplit=1)[0].split()
                if phrase:
                    found.add((row.id, canonical(head), relation, canonical(phrase[-1])))
    return found


def genus_baseline(sentences: pd.DataFrame, prepare) -> set[tuple]:
    wordnet = prepare.read_wordnet(Path("/usr/share/wordnet"))
    found = set()
    for row in sentences.itertuples(index=False):
        head, definition = row.text.split(" : ", 1)
        words = tokenize(definition)
        mentions = prepare._mentions(words, wordnet)
        if mentions:
            start, end, _ = mentions[0]
            found.add((row.id, canonical(head), "hypernym", canonical(" ".join(words[start:end]))))
    return found


def ours(sentences: pd.DataFrame, entities: str, relations: str, threshold: float):
    from modelyard import Model
    from modelyard.extract import pipeline

    runs = pipeline.models(Model.load(entities), Model.load(relations))
    start = time.perf_counter()
    rows = pipeline.extract(runs, sentences.set_index("id")["text"], threshold)
    seconds = time.perf_counter() - start
    return {tuple(r) for r in rows[["sentence", "head", "relation", "tail"]].values}, seconds


def score(found: set[tuple], gold: set[tuple]) -> dict[str, float]:
    hits = len(found & gold)
    precision = hits / len(found) if found else 0.0
    recall = hits / len(gold)
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return {"triples": len(found), "precision": precision, "recall": recall, "f1": f1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", required=True, help="run of examples/kg_text/mentions.yaml")
    parser.add_argument("--relations", required=True, help="run of relations.yaml")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 0.3, 0.7])
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("prepare", DATA.parent / "prepare.py")
    prepare = importlib.util.module_from_spec(spec)
    sys.modules["prepare"] = prepare  # its dataclass looks itself up there
    spec.loader.exec_module(prepare)

    sentences = pd.read_csv(args.data / "sentences_test.csv")
    gold_table = pd.read_csv(args.data / "gold_test.tsv", sep="\t")
    gold = {
        (r.id, canonical(r.head), r.relation, canonical(r.tail))
        for r in gold_table.itertuples(index=False)
    }
    hypernyms = {g for g in gold if g[2] == "hypernym"}
    found = {}
    for threshold in args.thresholds:
        found[threshold], seconds = ours(sentences, args.entities, args.relations, threshold)
    rows = {f"extract-triples, threshold {t}": triples for t, triples in found.items()}
    rows["patterns ('a kind of', ...)"] = pattern_baseline(sentences)
    rows["genus (first noun = hypernym)"] = genus_baseline(sentences, prepare)
    print(
        f"{len(sentences)} test sentences (held-out headwords), {len(gold)} gold triples "
        f"({len(hypernyms)} hypernym); ours: {seconds:.1f} s, "
        f"{len(sentences) / seconds:.1f} sentences/s"
    )
    print(f"{'':34s} {'triples':>8s} {'P':>6s} {'R':>6s} {'F1':>6s} | hypernym P / R")
    for name, triples in rows.items():
        every, hyper = (
            score(triples, gold),
            score({t for t in triples if t[2] == "hypernym"}, hypernyms),
        )
        print(
            f"{name:34s} {every['triples']:8d} {every['precision']:6.3f} {every['recall']:6.3f} "
            f"{every['f1']:6.3f} | {hyper['precision']:.3f} / {hyper['recall']:.3f}"
        )
    ratio = score(found[args.thresholds[0]], gold)["f1"] / max(
        score(rows["genus (first noun = hypernym)"], gold)["f1"], 1e-9
    )
    print(f"F1 ratio ours (threshold {args.thresholds[0]}) / genus baseline: {ratio:.2f}")


if __name__ == "__main__":
    main()
