"""`modelyard compress` on a real bundled data set: the before/after table of each method.

Trains the example (default examples/breast_cancer: 569 rows, 30 numbers, mlp combiner [64, 32]
with batch norm), or reuses --run, then compresses it four ways, each measured on the example's
own test split (the baseline is the trained run; "after / before" is the ratio against it):
  quantize              dynamic int8 Linear layers
  prune --structured    half the neurons of every hidden layer, then --epochs of fine-tuning
  prune                 half of every weight zeroed (unstructured), then --epochs of fine-tuning
  distill               into a student with combiner hidden [8] (T = 2, alpha = 0.5)

    python bench/compress.py [--config examples/breast_cancer/config.yaml] [--set combiner.hidden=[512,256]]
                             [--run RUN] [--epochs 10] [--repeats 50] [--threads 1] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import yaml


def main() -> None:
    args = _arguments()
    import torch

    torch.set_num_threads(args.threads)
    from modelyard.api import Model
    from modelyard.compress import Options, compress
    from modelyard.data.split import read_config_data

    model = Model.from_config(args.config, args.set)
    splits = read_config_data(model.config, model.base_dir)
    out = Path(args.out or tempfile.mkdtemp(prefix="compress-bench-"))
    run = Path(args.run) if args.run else out / "run"
    if not args.run:
        model.fit(output_dir=run, overwrite=True)
    student = out / "student.yaml"
    _write_student(model.config, student)
    train, test = splits["train"], splits["test"]
    methods = [
        ("quantize", Options(repeats=args.repeats)),
        ("prune", Options(structured=True, train=train, epochs=args.epochs, repeats=args.repeats)),
        ("prune", Options(train=train, epochs=args.epochs, repeats=args.repeats)),
        ("distill", Options(student=str(student), train=train, repeats=args.repeats)),
    ]
    print(f"torch {torch.__version__}, {args.threads} thread(s), test rows {len(test)}\n")
    for i, (method, options) in enumerate(methods):
        result = compress(run, method, out / f"{i}-{method}", test, options, overwrite=True)
        print(result["markdown"])
        print(f"options: {result['options']}\n")


def _write_student(config, path: Path) -> None:
    """The teacher's config with a much smaller combiner (hidden [8]) and no batch norm."""
    raw = config.model_dump(mode="json")
    raw["name"] = f"{config.name}-student"
    raw["data"] = {}
    raw["combiner"] = {"type": "mlp", "hidden": [8]}
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="examples/breast_cancer/config.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--run", help="an already trained run of --config (skips training)")
    parser.add_argument("--epochs", type=int, default=10, help="fine-tuning epochs after pruning")
    parser.add_argument(
        "--repeats", type=int, default=50, help="latency: median of this many passes"
    )
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    parser.add_argument("--out", help="folder for the runs (default: a new temporary folder)")
    return parser.parse_args()


if __name__ == "__main__":
    main()
