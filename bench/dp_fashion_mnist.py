"""DP-SGD on Fashion-MNIST (trainer.privacy): test accuracy at epsilon 1, 3 and 8 (delta 1e-5)
and without privacy, and what privacy costs in training speed.

Baseline named by issue 17: Tramer & Boneh (2021), end-to-end CNN with tanh activations,
86.0% test accuracy at (epsilon 3, delta 1e-5); the target is at least 0.86.

Accuracy: one `modelyard train examples/fashion_mnist/private.yaml` per setting, into
`--runs DIR/<setting>`; a setting whose run directory already has metrics.json is read, not
trained again (so the long runs can be started one by one in the background, and the table
printed when they are done). `none` trains the same model without privacy, with Adam
(DP-SGD's lr 4 with momentum would diverge without clipping).

Speed: the same model and batches (2048 rows) through `train.loop.fit`, with and without
privacy, alternating, `--repeats` times each; the median samples/s of each and their ratio.

    python examples/fashion_mnist/prepare.py
    python bench/dp_fashion_mnist.py --settings eps3 --runs runs/dp   # one run (long)
    python bench/dp_fashion_mnist.py --speed                          # the speed part only
    python bench/dp_fashion_mnist.py --runs runs/dp                   # the table of what ran
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "fashion_mnist" / "private.yaml"
SETTINGS = {
    "eps1": ["trainer.privacy.epsilon=1"],
    "eps3": ["trainer.privacy.epsilon=3"],
    "eps8": ["trainer.privacy.epsilon=8"],
    "none": [
        "trainer.privacy=null",
        "trainer.optimizer={type: adam, lr: 0.002}",
        "trainer.batch_size=256",
        "trainer.epochs=10",
    ],
}


def train(name: str, runs: Path, extra: list[str]) -> dict:
    """metrics.json of the setting's run, training it first unless it has one."""
    out = runs / name
    if not (out / "metrics.json").is_file():
        sets = [a for s in SETTINGS[name] + extra for a in ("--set", s)]
        command = [sys.executable, "-m", "modelyard", "train", str(CONFIG), "--output", str(out)]
        subprocess.run([*command, "--overwrite", *sets], check=True)
    return json.loads((out / "metrics.json").read_text())


def table(runs: Path, names: list[str], extra: list[str]) -> None:
    print(f"{'setting':<8} {'epsilon':>8} {'delta':>8} {'noise':>6} {'epochs':>6} {'test acc':>9}")
    for name in names:
        m = train(name, runs, extra)
        history = (runs / name / "history.csv").read_text().splitlines()
        p = m.get("privacy", {})
        eps = f"{p['epsilon']:.2f}" if p else "-"
        delta = f"{p['delta']:g}" if p else "-"
        noise = f"{p['noise_multiplier']:.2f}" if p else "-"
        acc = m["test"]["accuracy"]
        print(f"{name:<8} {eps:>8} {delta:>8} {noise:>6} {len(history) - 1:>6} {acc:>9.4f}")
    print("baseline: Tramer & Boneh 2021, end-to-end CNN at epsilon 3: 0.860")


# ------------------------------------------------------------ speed


def _speed_parts(rows: int):
    """(model, source) of the example's CNN over the first `rows` training images."""
    import torch

    sys.path.insert(0, str(ROOT / "examples" / "fashion_mnist"))
    from prepare import SOURCE_DIR, load_split

    from modelyard.data.source import InMemorySource
    from modelyard.models.encoders.cnn import ImageCnn
    from modelyard.models.encoders.pixels import Pixels

    images, labels = load_split(SOURCE_DIR, "train")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Sequential(
                Pixels([0.286], [0.353]),
                ImageCnn(1, 28, 28, [8, 16], 3, False, 32, 0.0, "tanh"),
                torch.nn.Linear(32, 10),
            )

        def forward(self, batch):  # {"image": (B, 1, 28, 28) uint8} -> {"label": (B, 10)}
            return {"label": self.body(batch["image"])}

    tensors = {
        "image": torch.from_numpy(images[:rows].copy()).unsqueeze(1),
        "label": torch.from_numpy(labels[:rows].astype("int64")),
    }
    return Net, tensors, InMemorySource


def _samples_per_second(private: bool, rows: int, epochs: int) -> float:
    import torch

    from modelyard.config.schema.trainer import Privacy, Sgd, Trainer
    from modelyard.train.distributed import Processes
    from modelyard.train.loop import FitSetup, fit, supervised_objective

    Net, tensors, Source = _speed_parts(rows)
    privacy = Privacy(noise_multiplier=1.0, delta=1e-5, max_grad_norm=0.1) if private else None
    settings = Trainer(
        epochs=epochs,
        batch_size=2048,
        optimizer=Sgd(lr=4.0 if private else 0.05, momentum=0.9),
        early_stopping=None,
        privacy=privacy,
    )
    torch.manual_seed(0)
    loss = {"label": (1.0, torch.nn.functional.cross_entropy)}
    setup = FitSetup(settings, supervised_objective(loss), torch.device("cpu"), False, Processes())
    source = Source(tensors, 2048, 0, poisson=private)
    started = time.perf_counter()
    fit(Net(), source, setup)
    return rows * epochs / (time.perf_counter() - started)


def speed(repeats: int, rows: int, epochs: int) -> None:
    import torch

    torch.set_num_threads(1)
    found: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(repeats):
        for private in (False, True):
            found[private].append(_samples_per_second(private, rows, epochs))
    plain, private = (statistics.median(found[k]) for k in (False, True))
    print(
        f"training speed, {rows} rows x {epochs} epochs, batch 2048, 1 thread, median of {repeats}:"
    )
    print(f"  without privacy  {plain:8.0f} samples/s   {[round(v) for v in found[False]]}")
    print(f"  with privacy     {private:8.0f} samples/s   {[round(v) for v in found[True]]}")
    print(f"  privacy costs {plain / private:.2f}x the time (baseline: the same loop without it)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "dp_fashion_mnist")
    parser.add_argument("--settings", default="eps1,eps3,eps8,none")
    parser.add_argument("--set", action="append", default=[], help="extra KEY=VALUE overrides")
    parser.add_argument("--speed", action="store_true", help="only the speed comparison")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--speed-rows", type=int, default=20480)
    args = parser.parse_args()
    if not args.speed:
        table(args.runs, args.settings.split(","), args.set)
    if args.repeats > 0:
        speed(args.repeats, args.speed_rows, 1)


if __name__ == "__main__":
    main()
