"""The reference point: Apertium's rule-based English -> Spanish translator (Debian
``apertium-eng-spa``) on the same test verses, scored with the same sacrebleu BLEU and chrF
as modelyard's metrics.json.

Usage (after prepare.py)::

    python examples/translation/baselines.py [--data examples/translation/data/test.csv]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

import pandas as pd

from modelyard.metrics.translation import translation_metrics


def apertium(texts: list[str]) -> list[str]:
    """One translation per text (`apertium -u eng-spa`: unknown words unmarked), one per line."""
    joined = "\n".join(t.replace("\n", " ") for t in texts) + "\n"
    try:
        done = subprocess.run(
            ["apertium", "-u", "eng-spa"], input=joined, capture_output=True, text=True, check=True
        )
    except FileNotFoundError as error:
        raise SystemExit("apertium not found: sudo apt-get install apertium-eng-spa") from error
    lines = done.stdout.rstrip("\n").split("\n")
    if len(lines) != len(texts):
        raise SystemExit(f"apertium returned {len(lines)} lines for {len(texts)} texts")
    return [line.strip() for line in lines]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).parent / "data" / "test.csv")
    args = parser.parse_args()
    test = pd.read_csv(args.data)
    started = time.perf_counter()
    hypotheses = apertium(test["english"].tolist())
    seconds = time.perf_counter() - started
    scores = translation_metrics(test["spanish"].tolist(), hypotheses)
    print(json.dumps({"apertium eng-spa": {**scores, "seconds": round(seconds, 1)}}, indent=2))


if __name__ == "__main__":
    main()
