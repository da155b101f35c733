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
the extractive model's ROUGE-L to Lead-3's and TextRank's. With `--bootstrap N`, also how
sure that comparison is: the model's summaries of the test documents are predicted again, and
the per-document ROUGE-L difference to TextRank's (same documents, same budget) is resampled
N times (paired bootstrap): its mean, 95% interval and the share of resamples where the model
is not ahead.

Usage::

    python bench/summarisation.py [--runs bench/out/summarisation] [--only aclsum_extractive ...]
        [--bootstrap 10000]
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


def paired_bootstrap(run: Path, resamples: int, seed: int = 0) -> tuple[float, float, float, float]:
    """(mean, 2.5th and 97.5th percentile, share <= 0) of the per-document ROUGE-L difference
    (x100) between the extractive run's summaries and TextRank's on the run's test split."""
    import numpy as np
    import pandas as pd

    from modelyard import Model
    from modelyard.metrics.summarisation import rouge
    from modelyard.tasks.summary.feature import budget_of
    from modelyard.tasks.summary.select import select, summary_text, textrank_scores
    from modelyard.tasks.summary.sentences import sentences_of

    model = Model.load(run)
    (document,), (output,) = model.config.inputs, model.config.outputs
    meta = json.loads((run / "model/meta.json").read_text())
    base = Path(meta.get("config_dir", EXAMPLES))  # runs older than config_dir: the examples
    test = pd.read_json(base / model.config.data.test, lines=True)
    summaries = model.predict(test)[f"{output.name}_prediction"]
    budget = budget_of(output)
    diffs = []
    for (_, row), ours in zip(test.iterrows(), summaries, strict=True):
        doc = sentences_of(row[document.column or document.name])[: output.max_document_sentences]
        textrank = summary_text(doc, select(textrank_scores(doc), doc, budget), budget)
        reference = row[output.column or output.name]
        diffs.append(
            rouge([reference], [ours])["rougeL"] - rouge([reference], [textrank])["rougeL"]
        )
    diffs = np.asarray(diffs)
    rng = np.random.default_rng(seed)
    means = diffs[rng.integers(0, len(diffs), (resamples, len(diffs)))].mean(1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(diffs.mean()), float(low), float(high), float((means <= 0).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=ROOT / "bench/out/summarisation")
    parser.add_argument("--only", nargs="*", help="run names to include (default: all)")
    parser.add_argument(
        "--bootstrap",
        type=int,
        metavar="N",
        help="paired bootstrap of the extractive run's ROUGE-L against TextRank's, N resamples",
    )
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
        extractive = [n for n in names if n.endswith("_extractive")]
        if args.bootstrap and extractive:
            mean, low, high, behind = paired_bootstrap(args.runs / extractive[0], args.bootstrap)
            print(
                f"extractive - TextRank ROUGE-L per document: {mean:+.2f}, 95% interval "
                f"[{low:+.2f}, {high:+.2f}], not ahead in {behind:.1%} of {args.bootstrap} resamples"
            )


if __name__ == "__main__":
    main()
