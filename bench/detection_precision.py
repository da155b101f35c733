"""Training-step time of the canvas detector (examples/canvas/detection.yaml's network) in
fp32 and bf16 autocast, side by side in one process, one thread. Baseline: fp32.

    OMP_NUM_THREADS=1 python bench/detection_precision.py [--steps 8] [--batch 32]
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

import torch

from modelyard.detection.network import build_network
from modelyard.detection.targets import detection_loss


def step_seconds(net, images, boxes, labels, bf16: bool, steps: int) -> float:
    optimizer = torch.optim.Adam(net.parameters())
    times = []
    for _ in range(steps + 2):  # the first two warm up
        began = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = net(images)
        loss = detection_loss(out, boxes, labels, 4)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - began)
    return sorted(times[2:])[len(times[2:]) // 2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    image = SimpleNamespace(channels=1, height=96, width=96, mean=[0.1], std=[0.25])
    encoder = SimpleNamespace(
        type="cnn",
        channels=[16, 32, 64, 96, 128],
        kernel_size=3,
        batch_norm=True,
        activation="relu",
    )
    net = build_network(encoder, image, 10, SimpleNamespace(stride=4, width=64, head_width=64))
    images = torch.randint(0, 256, (args.batch, 1, 96, 96), dtype=torch.uint8)
    boxes = torch.tensor([[10.0, 10, 40, 50], [50, 50, 90, 80]]).expand(args.batch, 2, 4)
    labels = torch.tensor([3, 5]).expand(args.batch, 2)
    fp32 = step_seconds(net, images, boxes, labels, False, args.steps)
    bf16 = step_seconds(net, images, boxes, labels, True, args.steps)
    fp32_again = step_seconds(net, images, boxes, labels, False, args.steps)
    print(f"batch {args.batch}, median of {args.steps} steps, 1 thread (shared machine)")
    print(f"fp32 {fp32:.3f} s/step, again {fp32_again:.3f}; bf16 {bf16:.3f} s/step")
    print(f"bf16 / fp32 time ratio: {bf16 / min(fp32, fp32_again):.2f}")


if __name__ == "__main__":
    main()
