"""Peak memory of evaluating a segmentation run on a split: what evaluation keeps of each
batch (`SegmentationTask.compact`: the class per pixel, 1 byte, and each image's loss sums)
against keeping the full (N, K, H, W) float32 scores, the way every split was evaluated
before. Each mode runs in a fresh process (its peak resident memory, ru_maxrss), one after the
other, on the same prepared table; both print the metrics, which must agree.

    python bench/segmentation_memory.py --run runs/canvas-segmentation --data examples/canvas/data/segmentation_test.csv
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def measure(run: str, data: str, mode: str) -> None:
    """In this process: prepare `data`, infer (kept or full scores), score; print JSON."""
    import torch

    from modelyard import Model
    from modelyard.evaluate import infer, score
    from modelyard.models.build import build_losses

    model = Model.load(run)
    frame = model._as_frame(data)
    table = model.preprocessing.prepare(frame, "evaluate")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    if mode == "kept":
        outputs = model._infer(table)
    else:
        inputs = model._inputs(table)
        batch = model.config.trainer.eval_batch_size  # as model._infer's
        outputs = infer(model.module, inputs, torch.device("cpu"), False, batch)
    losses = build_losses(model.config, model.preprocessing)
    found = score(model.preprocessing, outputs, table, losses, details=False)[0]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    held = sum(v.numel() * v.element_size() for v in outputs.values())
    print(
        json.dumps(
            {
                "mode": mode,
                "rows": len(frame),
                "outputs_mb": held / 2**20,
                "peak_rss_mb": peak / 1024,
                "rss_before_inference_mb": before / 1024,
                "seconds": time.perf_counter() - started,
                "metrics": found,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--mode", choices=["kept", "full"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        return measure(args.run, args.data, args.mode)
    found = {}
    for mode in ("full", "kept"):
        command = [sys.executable, __file__, "--run", args.run, "--data", args.data]
        done = subprocess.run(
            [*command, "--mode", mode], check=True, capture_output=True, text=True
        )
        found[mode] = json.loads(done.stdout.strip().splitlines()[-1])
        f = found[mode]
        print(
            f"{mode:5s} outputs held {f['outputs_mb']:8.1f} MB  peak RSS {f['peak_rss_mb']:8.1f} MB"
            f" (before inference {f['rss_before_inference_mb']:.1f})  {f['seconds']:.1f} s  "
            f"miou {f['metrics']['miou']:.4f}  loss {f['metrics']['loss']:.5f}"
        )
    full, kept = found["full"], found["kept"]
    print(
        f"kept / full: outputs {kept['outputs_mb'] / full['outputs_mb']:.3f}x, "
        f"peak RSS {kept['peak_rss_mb'] / full['peak_rss_mb']:.3f}x, "
        f"time {kept['seconds'] / full['seconds']:.2f}x"
    )


if __name__ == "__main__":
    main()
