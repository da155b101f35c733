"""`modelyard extract-triples`: a knowledge graph from sentences (modelyard.extract)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXTRACT_HELP = """Every sentence of --data (a table's --column, or a .txt file with one sentence per
line) is split into words and punctuation; the --entities run (a tags output, BIO tags) finds
its entities; the --relations run (a category output with a 'none' class) reads each ordered
pair of them marked as '[E1] .. [/E1]' and '[E2] .. [/E2]' in the sentence and names their
relation: its most probable class other than 'none', kept when the pair is related with
probability at least --threshold (1 - P(none); lower it for recall, raise it for precision).
Entity names are canonical (lowercase, single spaces, no leading a/an/the): the same name
is the same entity.

--out: head, relation, tail per line, tab-separated, no header: ready as the train file of a
link prediction config. --details: the same triples with their best score and how many
sentences state them. --graphml / --turtle: the graph for networkx, Gephi, or RDF stores.

examples:
  modelyard extract-triples --entities runs/mentions --relations runs/relations \\
      --data sentences.csv --column text --out triples.tsv --graphml graph.graphml
  modelyard extract-triples --entities runs/mentions --relations runs/relations \\
      --data notes.txt --out triples.tsv --turtle graph.ttl --base-uri https://example.org/kg/"""


def add_extract(verbs) -> None:
    parser = verbs.add_parser(
        "extract-triples",
        help="build a knowledge graph from sentences with an entity tagger and a relation "
        "classifier (triples TSV, GraphML, RDF Turtle)",
        description=EXTRACT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--entities", required=True, help="run of the entity tagger (tags)")
    parser.add_argument("--relations", required=True, help="run of the relation classifier")
    parser.add_argument("--data", required=True, help="a table, or a .txt file of sentences")
    parser.add_argument("--column", default="text", help="the sentences' column (default text)")
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="least probability that a pair is related (default 0.5)",
    )
    parser.add_argument("--out", required=True, help="triples TSV (head, relation, tail)")
    parser.add_argument("--details", help="also the triples with scores (.csv, .tsv, ...)")
    parser.add_argument("--graphml", help="also a GraphML file")
    parser.add_argument("--turtle", help="also an RDF Turtle file")
    parser.add_argument("--base-uri", default="urn:modelyard:", help="RDF names start with it")
    parser.add_argument("--overwrite", action="store_true", help="replace output files")


def run_extract(args) -> int:
    from modelyard.api import Model
    from modelyard.cli.tables import checked_out, write_table
    from modelyard.errors import UserError
    from modelyard.extract import graph, pipeline

    if not 0 < args.threshold <= 1:
        raise UserError(f"--threshold {args.threshold}: give a probability in (0, 1]")
    outputs = [Path(p) for p in (args.out, args.graphml, args.turtle) if p]
    taken = [str(p) for p in outputs if p.exists()]
    if taken and not args.overwrite:
        raise UserError(f"{', '.join(taken)} already exist(s); pass --overwrite to replace")
    details = checked_out(args.details, args.overwrite)
    texts = _sentences(Path(args.data), args.column)
    runs = pipeline.models(Model.load(args.entities), Model.load(args.relations))
    found = pipeline.triples(pipeline.extract(runs, texts, args.threshold))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    found[["head", "relation", "tail"]].to_csv(out, sep="\t", header=False, index=False)
    if details is not None:
        write_table(found, details)
    if args.graphml:
        graph.write_graphml(found, Path(args.graphml))
    if args.turtle:
        graph.write_turtle(found, Path(args.turtle), args.base_uri)
    entities = len(set(found["head"]) | set(found["tail"]))
    print(
        f"{len(texts)} sentences -> {len(found)} triples, {entities} entities, "
        f"{found['relation'].nunique()} relations; written to {out}",
        file=sys.stderr,
    )
    return 0


def _sentences(path: Path, column: str):
    """The non-empty sentences, indexed by their row (1-based line of a .txt file)."""
    import pandas as pd

    from modelyard.data.columns import column_hint
    from modelyard.data.read import read_table
    from modelyard.errors import UserError

    if path.suffix.lower() == ".txt":
        if not path.exists():
            raise UserError(f"data file '{path}' does not exist")
        lines = path.read_text(encoding="utf-8").splitlines()
        texts = pd.Series(lines, index=range(1, len(lines) + 1))
    else:
        frame = read_table(path)
        if column not in frame.columns:
            raise UserError(
                f"{path}: no column '{column}' (--column){column_hint(column, frame.columns)}"
            )
        texts = frame[column]
    texts = texts[texts.notna() & (texts.astype(str).str.strip() != "")].astype(str)
    if texts.empty:
        raise UserError(f"{path}: no sentences (every row of '{column}' is empty)")
    return texts
