"""Build the two summarisation sets from files already on this machine (nothing is downloaded).

XSum (BBC articles with a one-sentence summary; Narayan et al. 2018), the 1,001 pairs of
BIG-bench's GEM task ``gem/xsum/task.json``, read from the source distribution of PyPI
``bigbench==1.0.0`` (``pip download --no-deps bigbench==1.0.0``; the tarball is opened with
``tarfile`` and only that member is read; bigbench is never installed). Split with a fixed
seed: 200 test, 100 validation, 701 training pairs. Articles keep their line breaks (one
sentence per line, mostly), which the sentence splitter honours.

ACLSum (Takeshita et al. 2024, MIT; 250 ACL papers, summaries of three aspects: challenge,
approach, outcome, with expert highlights of the sentences each summary draws on), the files
``aclsum/dataset/{train,val,test}.jsonl`` of the PyPI wheel ``aclsum-0.1.2`` (read with
``zipfile``; not installed). A document is the paper's abstract, introduction and conclusion
sentences (already split), as a JSON list; ``highlights`` is a JSON list of 0/1 per sentence
for the aspect. One file set per aspect, the wheel's own split (100 / 50 / 100 papers).

Outputs under ``--out`` (default ``data/`` beside this script), JSON lines with columns
``id``, ``document``, ``summary`` (and ``highlights`` for ACLSum):
``xsum_{train,validation,test}.jsonl``, ``aclsum_{aspect}_{train,validation,test}.jsonl``.

Usage::

    python examples/summarisation/prepare.py [--bigbench PATH] [--aclsum PATH] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import tarfile
import zipfile
from pathlib import Path

XSUM_MEMBER = "bigbench/benchmark_tasks/gem/xsum/task.json"
ASPECTS = ("challenge", "approach", "outcome")
SECTIONS = ("abstract", "introduction", "conclusion")
SPLITS = {"train": "train", "validation": "val", "test": "test"}


def xsum_pairs(tarball: Path) -> list[dict[str, str]]:
    """The XSum pairs of BIG-bench's task file, in its order."""
    with tarfile.open(tarball) as archive:
        member = next(m for m in archive if m.name.endswith(XSUM_MEMBER))
        task = json.load(archive.extractfile(member))
    return [
        {"id": f"xsum-{i}", "document": e["input"].strip(), "summary": e["target"].strip()}
        for i, e in enumerate(task["examples"])
    ]


def split_xsum(pairs: list[dict[str, str]], seed: int = 0) -> dict[str, list]:
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    test, validation, train = order[:200], order[200:300], order[300:]
    return {
        name: [pairs[i] for i in sorted(rows)]
        for name, rows in (("train", train), ("validation", validation), ("test", test))
    }


def aclsum_rows(wheel: Path, split: str, aspect: str) -> list[dict[str, str]]:
    """One row per paper: its sentences, the aspect's summary and highlights."""
    with zipfile.ZipFile(wheel) as archive:
        lines = archive.read(f"aclsum/dataset/{split}.jsonl").decode().splitlines()
    rows = []
    for line in lines:
        paper = json.loads(line)
        sentences = [s for section in SECTIONS for s in paper["sentences"][section]]
        labels = [f for section in SECTIONS for f in paper["highlights"][aspect][section]]
        assert len(sentences) == len(labels), paper["id"]
        rows.append(
            {
                "id": paper["id"],
                "document": json.dumps(sentences),
                "summary": paper["summary"][aspect],
                "highlights": json.dumps(labels),
            }
        )
    return rows


def write(rows: list[dict[str, str]], path: Path) -> None:
    with path.open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    print(f"{path}: {len(rows)} rows")


def main() -> None:
    here = Path(__file__).parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bigbench", type=Path, default=Path("/work/data/w/bigbench-1.0.0.tar.gz"))
    parser.add_argument(
        "--aclsum", type=Path, default=Path("/work/data/w/aclsum-0.1.2-py3-none-any.whl")
    )
    parser.add_argument("--out", type=Path, default=here / "data")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rows in split_xsum(xsum_pairs(args.bigbench)).items():
        write(rows, args.out / f"xsum_{name}.jsonl")
    for aspect in ASPECTS:
        for name, split in SPLITS.items():
            write(
                aclsum_rows(args.aclsum, split, aspect), args.out / f"aclsum_{aspect}_{name}.jsonl"
            )


if __name__ == "__main__":
    main()
