"""Extract the small knowledge graphs PyKEEN bundles in its wheel (Nations, Kinships, UMLS:
train.txt / valid.txt / test.txt, tab-separated head, relation, tail, no header) to a folder,
without installing PyKEEN and without network at run time:

    pip download --no-deps pykeen==1.11.1 -d /tmp/kgw
    python bench/kg_data.py /tmp/kgw/pykeen-1.11.1-py3-none-any.whl data/kg

writes data/kg/<name>/{train,valid,test}.txt for nations, kinships and umls (PyKEEN is MIT;
the graphs are the public benchmark sets of Kok and Domingos 2007).
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

GRAPHS = ("nations", "kinships", "umls")
PARTS = ("train", "valid", "test")


def extract(wheel: Path, folder: Path, graphs: tuple[str, ...] = GRAPHS) -> list[Path]:
    """The graphs' files from `wheel` into folder/<name>/; returns the written paths."""
    written = []
    with zipfile.ZipFile(wheel) as archive:
        for name in graphs:
            for part in PARTS:
                target = folder / name / f"{part}.txt"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(f"pykeen/datasets/{name}/{part}.txt"))
                written.append(target)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path, help="the pykeen wheel (pip download --no-deps)")
    parser.add_argument("folder", type=Path, help="where to write <graph>/{train,valid,test}.txt")
    parser.add_argument("--graphs", nargs="+", default=list(GRAPHS), choices=GRAPHS)
    args = parser.parse_args()
    for path in extract(args.wheel, args.folder, tuple(args.graphs)):
        lines = sum(1 for _ in path.open(encoding="utf-8"))
        print(f"{path}: {lines} triples")


if __name__ == "__main__":
    main()
