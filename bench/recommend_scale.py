"""Scale of recommendation: id mapping, one BPR epoch and a full-ranking evaluation on
synthetic implicit feedback (skewed item popularity), with time and peak memory.

Baseline: the bare full ranking (scores of every item and their top-K for the same users,
with nothing excluded and no metrics): the ratio says what exclusion and metrics add.

    python bench/recommend_scale.py                                   # 10M x 1M items
    python bench/recommend_scale.py --interactions 1000000 --items 100000 --users 20000
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd
import torch


def synthetic(interactions: int, users: int, items: int, seed: int = 0) -> pd.DataFrame:
    """Uniform users; items skewed to low ids (item = items x u^2), so some are popular."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "user": rng.integers(0, users, interactions),
            "item": (rng.random(interactions) ** 2 * items).astype(np.int64),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--interactions", type=int, default=10_000_000)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--eval-users", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=65536)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    from modelyard import Model
    from modelyard.recommend.metrics import UserItems, chunk_rows, ranking_metrics
    from modelyard.train.progress import verbosity

    verbosity("quiet")
    frame = synthetic(args.interactions, args.users, args.items)
    config = {
        "task": "recommendation",
        "data": {"duplicates": "first"},
        "split": {"by": "random", "validation": 0.0, "test": 0.0},
        "model": {"objective": "ranking", "dim": args.dim},
        "trainer": {
            "epochs": 1,
            "batch_size": args.batch_size,
            "device": args.device,
            "early_stopping": None,
            "keep": "last",
        },
        "tracking": {"tensorboard": False},
    }
    model = Model.from_config(config)
    started = time.perf_counter()
    model.fit(frame)
    fit_s = time.perf_counter() - started
    epoch_s = model.history[-1]["seconds"]
    found, module = model.seen, model.module
    device = torch.device("cuda" if torch.cuda.is_available() and args.device != "cpu" else "cpu")
    module.to(device).eval()
    n_users, n_items = len(model.user_ids), len(model.item_ids)
    rng = np.random.default_rng(1)
    users = np.sort(rng.choice(np.unique(found[0]), args.eval_users, replace=False))
    pick = np.isin(found[0], users)
    last = np.flatnonzero(pick)[np.unique(found[0][pick], return_index=True)[1]]  # one each
    keep = np.ones(len(found[0]), dtype=bool)
    keep[last] = False
    with torch.no_grad():
        started = time.perf_counter()
        metrics = ranking_metrics(
            module.score_all,
            n_items,
            UserItems(found[0][last], found[1][last], n_users),
            UserItems(found[0][keep], found[1][keep], n_users),
            users,
            [10],
            1024,
            device,
        )
        _sync(device)
        eval_s = time.perf_counter() - started
        started = time.perf_counter()
        rows = chunk_rows(1024, n_items)
        for start in range(0, len(users), rows):
            module.score_all(torch.as_tensor(users[start : start + rows], device=device)).topk(10)
        _sync(device)
        bare_s = time.perf_counter() - started
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        f"{args.interactions:,} interactions, {n_users:,} users, {n_items:,} items, dim {args.dim}, "
        f"batch {args.batch_size}, device {device}"
    )
    print(f"fit (map ids, split, 1 BPR epoch, save nothing): {fit_s:.1f} s (epoch {epoch_s:.1f} s)")
    print(
        f"full-ranking evaluation of {len(users):,} users: {eval_s:.1f} s "
        f"(recall_at_10 {metrics['recall_at_10']:.4f}); bare scores + top-10: {bare_s:.1f} s; "
        f"ratio {eval_s / bare_s:.2f}x"
    )
    gpu = (
        f"; GPU peak {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB"
        if device.type == "cuda"
        else ""
    )
    print(f"peak memory (RSS): {peak_gb:.2f} GiB{gpu}")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


if __name__ == "__main__":
    main()
