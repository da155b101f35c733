"""The whole `Model.from_config(path).fit()` against a hand-written loop that also validates.

The tiny task of shared/PERF.md: 2,000 rows (CSV), 2 numbers, binary label; 80% train, 20%
validation; MLP 2-64-32-1, Adam, batch 32, 60 epochs, fp32. The hand loop reads the same CSV,
standardises, and after each epoch reports validation loss and accuracy, as modelyard's epoch
line does. Both end to end (reading, preprocessing, training, per-epoch validation, final
metrics; epoch lines go to stderr on both sides), one thread each, after a warm-up run of each
(imports, allocator). A and B alternate, several repeats; medians and the ratio of CPU times
(the work done: on a shared machine wall times drift with the load, and are shown too).
`--profile` prints cProfile's top functions of one modelyard fit instead.

    python bench/fit_end_to_end.py [--repeats 5] [--epochs 60] [--profile] 2>/dev/null
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from torch import nn

ROWS, BATCH, VALIDATION = 2000, 32, 0.2


def write_data(folder: Path, epochs: int) -> Path:
    """data.csv and config.yaml in `folder`; returns the config's path."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(ROWS, 2))
    y = (x[:, 0] * x[:, 1] + 0.3 * rng.normal(size=ROWS) > 0).astype(int)
    pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "y": y}).to_csv(folder / "data.csv", index=False)
    config = {
        "name": "bench",
        "data": {"train": "data.csv", "split": {"validation": VALIDATION, "test": 0.0}},
        "inputs": [{"name": "x1", "type": "number"}, {"name": "x2", "type": "number"}],
        "outputs": [{"name": "y", "type": "binary"}],
        "combiner": {"type": "mlp", "hidden": [64, 32]},
        "trainer": {
            "epochs": epochs,
            "batch_size": BATCH,
            "optimizer": {"type": "adam", "lr": 0.001},
        },
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def hand_loop(config_path: Path, epochs: int, fused: bool | None = None) -> None:
    """What a PyTorch user writes by hand, validation loss and accuracy printed every epoch.
    `fused=True`: the fused Adam kernel modelyard uses, to see the loop's own overhead."""
    frame = pd.read_csv(config_path.parent / "data.csv")
    order = np.random.default_rng(0).permutation(len(frame))
    cut = int(len(frame) * (1 - VALIDATION))
    train, valid = frame.iloc[order[:cut]], frame.iloc[order[cut:]]
    mean, std = train[["x1", "x2"]].mean(), train[["x1", "x2"]].std()

    def tensors(part: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.tensor(((part[["x1", "x2"]] - mean) / std).to_numpy(), dtype=torch.float32)
        return x, torch.tensor(part["y"].to_numpy(), dtype=torch.float32)

    (x, y), (vx, vy) = tensors(train), tensors(valid)
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 1)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused)
    loss_fn = nn.functional.binary_cross_entropy_with_logits
    for epoch in range(epochs):
        model.train()
        shuffled = torch.randperm(len(x))
        total = torch.zeros(())
        for i in range(0, len(x), BATCH):
            idx = shuffled[i : i + BATCH]
            loss = loss_fn(model(x[idx]).squeeze(-1), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.detach()
        model.eval()
        with torch.no_grad():
            logits = model(vx).squeeze(-1)
            val_loss = float(loss_fn(logits, vy))
            accuracy = float(((logits >= 0).float() == vy).float().mean())
        print(
            f"epoch {epoch + 1} loss {float(total) / len(x) * BATCH:.4f} "
            f"val_loss {val_loss:.4f} val_accuracy {accuracy:.4f}",
            file=sys.stderr,
        )


def modelyard_fit(config_path: Path, epochs: int) -> None:
    from modelyard import Model

    Model.from_config(config_path, [f"trainer.epochs={epochs}"]).fit()


def timed(run, *args) -> tuple[float, float]:
    """(CPU seconds of this process, wall seconds) of one call. CPU time is the figure that
    holds on a shared machine (one thread each: it is the work done); wall time drifts."""
    cpu, wall = time.process_time(), time.perf_counter()
    run(*args)
    return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--profile", action="store_true", help="cProfile one modelyard fit")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        path = write_data(Path(folder), args.epochs)
        hand_loop(path, 2), modelyard_fit(path, 2)  # warm-up: lazy imports, allocator
        if args.profile:
            import cProfile
            import pstats

            with cProfile.Profile() as profiler:
                modelyard_fit(path, args.epochs)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
            return
        runs = {
            "hand-written loop": hand_loop,
            "hand loop, fused Adam": lambda *a: hand_loop(*a, fused=True),
            "modelyard fit": modelyard_fit,
        }
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, run in runs.items():
                times[name].append(timed(run, path, args.epochs))
    report(times)


def report(times: dict[str, list[tuple[float, float]]]) -> None:
    print(f"{'':24}{'CPU s (median)':>15}{'wall s (median)':>17}   CPU s of each run")
    cpu = {name: statistics.median(t[0] for t in values) for name, values in times.items()}
    for name, values in times.items():
        wall = statistics.median(t[1] for t in values)
        each = " ".join(f"{t[0]:.2f}" for t in values)
        print(f"{name:24}{cpu[name]:15.2f}{wall:17.2f}   {each}")
    hand, ours = times["hand-written loop"], times["modelyard fit"]
    pairs = " ".join(f"{h[0] / m[0]:.2f}" for h, m in zip(hand, ours, strict=True))
    print(
        f"\nspeed modelyard / hand loop (CPU time): {cpu['hand-written loop'] / cpu['modelyard fit']:.2f}x "
        f"(ratio of medians; per pair: {pairs}); goal >= 0.90x"
    )
    fused = cpu["hand loop, fused Adam"] / cpu["modelyard fit"]
    print(f"speed modelyard / hand loop with the same fused Adam: {fused:.2f}x (loop overhead)")


if __name__ == "__main__":
    main()
