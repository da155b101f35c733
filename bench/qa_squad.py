"""Extractive question answering on SQuAD v1.1 dev split by article: MiniLM fine-tuned by
`task: question_answering` against the sliding-window lexical baseline (qa/lexical.py) on the
same held-out test questions, and against the target F1 51.0 (the SQuAD paper's logistic
regression, trained on ten times more questions).

Build the tables first (examples/squad/prepare.py), then:

    OMP_NUM_THREADS=1 python bench/qa_squad.py [--train-articles 12] [--epochs 1] \\
        [--max-length 256] [--stride 64] [--out bench/out/qa_squad]

`--train-articles N` trains on the first N training articles only (all of them: 0), for a
CPU budget (`--first-article K`: on articles K+1..K+N; with `--pretrained` set to an earlier
run's model/ folder, fine-tuning continues from it on further articles); validation is left out (no early stopping) to spend the time on training. Prints
the test exact match and F1 of both, the model's training wall time and windows/s, the test
questions/s of both, and the ratio of F1s.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
import torch


def _subset(train: Path, articles: int, first: int, out: Path) -> Path:
    frame = pd.read_json(train, lines=True, dtype=False)
    if articles or first:
        titles = list(dict.fromkeys(frame["title"]))
        kept = titles[first : first + articles] if articles else titles[first:]
        frame = frame[frame["title"].isin(kept)]
    path = out / "train_subset.jsonl"
    frame.to_json(path, orient="records", lines=True, force_ascii=False)
    return path


def _config(args, train: Path) -> dict:
    return {
        "name": "qa_squad",
        "task": "question_answering",
        "data": {"train": str(train), "test": str((args.data / "test.jsonl").resolve())},
        "model": {"pretrained": args.pretrained},
        "windows": {"max_length": args.max_length, "stride": args.stride},
        "trainer": {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "optimizer": {"type": "adamw", "lr": args.lr},
            "schedule": {"type": "linear", "warmup_steps": 20},
            "precision": "auto",
            "early_stopping": None,
            "eval_batch_size": 64,
        },
    }


def _lexical(test: Path) -> dict:
    from modelyard.qa.lexical import lexical_answers
    from modelyard.qa.metrics import squad_scores

    rows = pd.read_json(test, lines=True, dtype=False)
    began = time.perf_counter()
    found = lexical_answers(rows["question"].tolist(), rows["context"].tolist())
    seconds = time.perf_counter() - began
    scores = squad_scores(found, [json.loads(a) for a in rows["answers"]])
    return {**scores, "rows": len(rows), "questions_per_second": len(rows) / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("examples/squad/data"))
    parser.add_argument("--train-articles", type=int, default=12)
    parser.add_argument("--first-article", type=int, default=0)
    parser.add_argument(
        "--pretrained",
        default="minilm",
        help="minilm, or a checkpoint to continue from (an earlier run's model/ folder)",
    )
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--stride", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--out", type=Path, default=Path("bench/out/qa_squad"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    from modelyard import Model

    args.out.mkdir(parents=True, exist_ok=True)
    lexical = _lexical(args.data / "test.jsonl")
    print(f"lexical baseline: {json.dumps(lexical)}", flush=True)
    train = _subset(args.data / "train.jsonl", args.train_articles, args.first_article, args.out)
    model = Model.from_config(_config(args, train.resolve()))
    began = time.perf_counter()
    model.fit(output_dir=args.out / "run", overwrite=True)
    wall = time.perf_counter() - began
    test = model.metrics["test"]
    history = model.history[-1] if model.history else {}
    rows = model.history and sum(h.get("seconds", 0.0) for h in model.history)
    summary = {
        "train_questions": len(train.read_text(encoding="utf-8").splitlines()),
        "train_articles": args.train_articles or "all",
        "first_article": args.first_article,
        "pretrained": args.pretrained,
        "epochs": args.epochs,
        "fit_wall_seconds": wall,
        "train_epoch_seconds": rows,
        "last_epoch": history,
        "test": test,
        "lexical": lexical,
        "f1_ratio_model_to_lexical": test["f1"] / max(lexical["f1"], 1e-9),
        "target_f1": 51.0,
        "reaches_target": test["f1"] >= 51.0,
        "machine": "2 CPU cores shared with other jobs; OMP_NUM_THREADS=1",
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
