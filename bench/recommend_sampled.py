"""Cost of the sampled ranking metrics (evaluation.sampled, the NCF protocol): drawing
`negatives` distinct items per held-out pair among those its user never interacted with,
scoring them and ranking the positive, with time and peak memory.

Baseline: scoring the same number of (pair, candidate) scores with candidates drawn uniformly
(no exclusion, no distinctness, no metrics): the ratio says what the protocol adds.

    python bench/recommend_sampled.py                       # 1M known pairs, 100k held out
    python bench/recommend_sampled.py --known 10000000 --items 1000000 --held 1000000
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--known", type=int, default=1_000_000)
    parser.add_argument("--held", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--negatives", type=int, default=99)
    parser.add_argument("--dim", type=int, default=32)
    args = parser.parse_args()

    from modelyard.recommend.networks import MatrixFactorization
    from modelyard.recommend.sampled import PAIR_BUDGET, sampled_metrics

    rng = np.random.default_rng(0)
    users = rng.integers(0, args.users, args.known)
    items = (rng.random(args.known) ** 2 * args.items).astype(np.int64)  # skewed popularity
    held = rng.choice(args.known, args.held, replace=False)
    network = MatrixFactorization(args.users, args.items, args.dim, biases=True).eval()
    device = torch.device("cpu")

    start = time.perf_counter()
    found = sampled_metrics(
        network,
        users[held],
        items[held],
        (users, items),
        args.items,
        [10],
        args.negatives,
        0,
        device,
    )
    sampled = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

    start = time.perf_counter()
    chunk = PAIR_BUDGET // (1 + args.negatives)  # as sampled_metrics scores them
    with torch.no_grad():
        for first in range(0, args.held, chunk):
            who = torch.as_tensor(users[held][first : first + chunk])
            drawn = torch.randint(args.items, (len(who), 1 + args.negatives))
            network(who[:, None].expand_as(drawn), drawn)
    bare = time.perf_counter() - start

    print(
        f"{args.held:,} held-out pairs x {args.negatives} negatives, {args.known:,} known pairs, "
        f"{args.items:,} items, torch threads {torch.get_num_threads()}"
    )
    print(f"sampled metrics: {sampled:.2f} s ({found['sampled_hr_at_10']:.3f} hr@10, random net)")
    print(f"baseline, bare scores of uniform candidates: {bare:.2f} s")
    print(f"ratio: {sampled / bare:.2f}x; peak memory of the sampled metrics {peak:.2f} GiB")


if __name__ == "__main__":
    main()
