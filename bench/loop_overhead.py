"""Loop overhead: modelyard's `Model.fit()` against a hand-written PyTorch loop, same task.

The tiny task of shared/PERF.md: 2,000 rows, 2 numbers, binary label; MLP 2-64-32-1, Adam,
batch 32, 10 epochs, fp32. Runs A and B alternately, several repeats; prints medians and the
ratio of steady-state steps/s (epochs 2..10; the first epoch includes warm-up).

    python bench/loop_overhead.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd
import torch
from torch import nn

ROWS, EPOCHS, BATCH = 2000, 10, 32
STEPS_PER_EPOCH = -(-ROWS // BATCH)


def make_data(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(ROWS, 2))
    y = (x[:, 0] * x[:, 1] + 0.3 * rng.normal(size=ROWS) > 0).astype(int)
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "y": y})


def hand_loop(frame: pd.DataFrame, fused: bool | None = None) -> tuple[float, list[float]]:
    """The loop a PyTorch user writes by hand: tensors in memory, index batches, Adam."""
    started = time.perf_counter()
    x = torch.tensor(frame[["x1", "x2"]].to_numpy(), dtype=torch.float32)
    x = (x - x.mean(0)) / x.std(0)
    y = torch.tensor(frame["y"].to_numpy(), dtype=torch.float32)
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 1)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused)
    epoch_seconds = []
    for _ in range(EPOCHS):
        t0 = time.perf_counter()
        order = torch.randperm(ROWS)
        for i in range(0, ROWS, BATCH):
            idx = order[i : i + BATCH]
            loss = nn.functional.binary_cross_entropy_with_logits(model(x[idx]).squeeze(-1), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        epoch_seconds.append(time.perf_counter() - t0)
    return time.perf_counter() - started, epoch_seconds


CONFIG = {
    "name": "bench",
    "data": {"split": {"validation": 0.0, "test": 0.0}},
    "inputs": [{"name": "x1", "type": "number"}, {"name": "x2", "type": "number"}],
    "outputs": [{"name": "y", "type": "binary"}],
    "combiner": {"type": "mlp", "hidden": [64, 32]},
    "trainer": {"epochs": EPOCHS, "batch_size": BATCH, "optimizer": {"type": "adam", "lr": 0.001}},
}


def modelyard_fit(frame: pd.DataFrame) -> tuple[float, list[float]]:
    from modelyard import Model

    started = time.perf_counter()
    model = Model.from_config(CONFIG).fit(train=frame)
    return time.perf_counter() - started, [row["seconds"] for row in model.history]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(2)
    frame = make_data()
    (
        hand_loop(frame),
        hand_loop(frame, fused=True),
        modelyard_fit(frame),
    )  # warm-up: lazy imports, allocator
    runs = {
        "hand-written loop": hand_loop,
        "hand loop, fused Adam": lambda f: hand_loop(f, fused=True),
        "modelyard Model.fit": modelyard_fit,
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():
            wall, epochs = run(frame)
            steady = STEPS_PER_EPOCH * (EPOCHS - 1) / sum(epochs[1:])
            results[name].append((wall, steady))
    print(f"{'':22}{'wall s (median)':>17}{'steady steps/s (median)':>26}")
    medians = {}
    for name, rows in results.items():
        wall, steps = statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)
        medians[name] = steps
        print(f"{name:22}{wall:17.2f}{steps:26,.0f}")
    ours = medians["modelyard Model.fit"]
    print(
        f"\nratio modelyard / hand-written loop (steady steps/s): {ours / medians['hand-written loop']:.2f}x  (goal: >= 0.90x)"
    )
    print(
        f"ratio modelyard / hand loop with the same fused Adam: {ours / medians['hand loop, fused Adam']:.2f}x  (pure loop overhead)"
    )


if __name__ == "__main__":
    main()
