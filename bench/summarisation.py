"""Summarisation against Lead-3 and TextRank on the same test documents (issue 18).

Sets (built offline by examples/summarisation/prepare.py; nothing is committed):

* ACLSum, "outcome" aspect: 100 test papers (abstract, introduction and conclusion
  sentences); the extractive model learns from the experts' sentence highlights.
* XSum: 200 held-out BBC articles of BIG-bench's 1,001 pairs; the extractive model learns
  from greedy ROUGE oracle labels; the abstractive one writes its own sentence.

Runs (the example configs, trained here unless their run directory already has metrics.json):
`aclsum_extractive`, `xsum_extractive` (frozen all-MiniLM-L6-v2 sentence vectors + a small
sentence scorer, 1 sentence), `xsum_abstractive` (frozen MiniLM encoder + a 2-layer decoder
trained from scratch on 701 pairs). Every run's metrics.json holds, for its own test split,
the model's ROUGE and the baselines' (Lead-3, Lead at the model's budget, TextRank at the
model's budget, the greedy oracle), computed by the same code on the same documents.

Prints ROUGE-1/2/L F (x100, rouge-score with stemming) per set and method, and the ratio of
the extractive model's ROUGE-L to Lead-3's and TextRank's.

Usage::

    python bench/summarisation.py [--runs bench/out/summarisation] [--only aclsum_extractive ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "summarisation"
RUNS = {
    "aclsum": ["aclsum_extractive"],
    "xsum": ["xsum_extractive", "xsum_abstractive"],
}
BASELINES = {
    "lead3": "Lead-3",
    "lead": "Lead-k (k = budget)",
    "textrank": "TextRank",
    "oracle": "oracle (upper bound)",
}
ROUGE = ("rouge1", "rouge2", "rougeL")


def train(name: str, runs: Path) -> dict:
    """The test metrics of run `name`, trained first if its metrics.json is missing."""
    run = runs / name
    if not (run / "metrics.json").is_file():
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        command = [sys.executable, "-m", "modelyard", "train", str(EXAMPLES / f"{name}.yaml")]
        subprocess.run([*command, "--output", str(run), "--overwrite"], check=True, env=env)
    return json.loads((run / "metrics.json").read_text())["test"]


def rows_of(names: list[str], runs: Path) -> list[tuple[str, dict]]:
    """(method, {rouge1, rouge2, rougeL}) for the runs and the first run's baselines."""
    rows, baselines = [], None
    for name in names:
        test = train(name, runs)
        rows.append((name.split("_", 1)[1], {k: test[k] for k in ROUGE}))
        baselines = baselines or test
    for key, label in BASELINES.items():
        rows.append((label, {k: baselines[f"{key}_{k}"] for k in ROUGE}))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=ROOT / "bench/out/summarisation")
    parser.add_argument("--only", nargs="*", help="run names to include (default: all)")
    args = parser.parse_args()
    for dataset, names in RUNS.items():
        names = [n for n in names if not args.only or n in args.only]
        if not names:
            continue
        rows = rows_of(names, args.runs)
        print(f"\n{dataset} (test documents: same for every row)")
        print(f"{'method':24} {'ROUGE-1':>8} {'ROUGE-2':>8} {'ROUGE-L':>8}")
        for method, scores in rows:
            print(f"{method:24} " + " ".join(f"{scores[k]:8.2f}" for k in ROUGE))
        found = dict(rows)
        if "extractive" in found:
            ours = found["extractive"]["rougeL"]
            for label in ("Lead-3", "TextRank"):
                print(f"extractive ROUGE-L / {label} ROUGE-L: {ours / found[label]['rougeL']:.2f}")


if __name__ == "__main__":
    main()
