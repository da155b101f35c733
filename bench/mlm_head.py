"""Masked-LM training step: modelyard's LanguageModelLoss (vocabulary projection at masked
positions only) against transformers' BertForMaskedLM loss (projection at every position).

The fortunes pretraining model: BERT 4 layers x 128, vocabulary 6,000, batch 32 x 128 tokens,
15% masked, AdamW (fused), bf16 autocast. Alternates A and B; prints median s/step and the ratio.

    python bench/mlm_head.py [--repeats 3] [--steps 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import transformers as t

from modelyard.tasks.language_model import LanguageModelLoss


def step_seconds(loss_fn, model, steps: int) -> float:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
    for i in range(steps + 3):
        if i == 3:  # the first steps warm up allocators and kernels
            start = time.perf_counter()
        with torch.autocast("cpu", torch.bfloat16):
            loss = loss_fn()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    config = t.BertConfig(
        vocab_size=6000,
        hidden_size=128,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=512,
        max_position_embeddings=128,
    )
    model = t.BertForMaskedLM(config)
    net = LanguageModelLoss(model, "bert")
    ids = torch.randint(5, 6000, (32, 128))
    labels = torch.where(torch.rand(32, 128) < 0.15, ids, torch.full_like(ids, -100))
    runs: dict[str, list[float]] = {"transformers BertForMaskedLM": [], "modelyard": []}
    for _ in range(args.repeats):
        runs["transformers BertForMaskedLM"].append(
            step_seconds(lambda: model(input_ids=ids, labels=labels).loss, model, args.steps)
        )
        runs["modelyard"].append(step_seconds(lambda: net(ids, labels), model, args.steps))
    medians = {name: statistics.median(times) for name, times in runs.items()}
    for name, median in medians.items():
        print(f"{name:32s} {median:.3f} s/step  {32 / median:6.1f} samples/s")
    ratio = medians["transformers BertForMaskedLM"] / medians["modelyard"]
    print(f"speed-up of modelyard over transformers: {ratio:.2f}x")


if __name__ == "__main__":
    main()
