"""Training speed of the segmentation U-Net (tasks/segmentation) on 96x96 grayscale images,
one thread: images per second of a forward and backward pass, fp32 against bf16 autocast,
for a few encoder/decoder sizes. Baseline: fp32 of the same model; ratio = bf16 / fp32 speed.

    OMP_NUM_THREADS=1 python bench/segmentation_speed.py
"""

from __future__ import annotations

import time

import torch

from modelyard.models.encoders.cnn import ImageCnn
from modelyard.models.encoders.pixels import Pixels
from modelyard.tasks.segmentation.model import MaskLoss, Segmenter, UNetDecoder

SIZES = {
    "small": ([16, 32, 64, 128], [8, 16, 32, 64]),
    "example": ([16, 32, 64, 128, 192], [16, 24, 48, 96, 128]),
    "wide": ([24, 48, 96, 192, 256], [16, 32, 64, 128, 192]),
}


def build(channels: list[int], decoder: list[int]) -> Segmenter:
    body = ImageCnn(1, 96, 96, channels, 3, True, 8, 0.0)
    encoder = torch.nn.Sequential(Pixels([0.2], [0.3]), body)
    return Segmenter("image", encoder, "mask", UNetDecoder(channels, decoder, 11))


def speed(model: Segmenter, bf16: bool, batch: int = 32, steps: int = 4) -> float:
    """Images per second of forward + loss + backward."""
    images = torch.randint(0, 255, (batch, 1, 96, 96), dtype=torch.uint8)
    target = torch.randint(0, 11, (batch, 96, 96), dtype=torch.uint8)
    loss_fn = MaskLoss(0.5)
    for step in range(steps + 1):
        if step == 1:
            start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model({"image": images})["mask"]
        loss_fn(logits, target).backward()
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    for name, (channels, decoder) in SIZES.items():
        model = build(channels, decoder)
        params = sum(p.numel() for p in model.parameters())
        fp32, bf16 = speed(model, False), speed(model, True)
        print(
            f"{name:8s} {params:>9,d} params  fp32 {fp32:6.1f} img/s  bf16 {bf16:6.1f} img/s  "
            f"bf16/fp32 {bf16 / fp32:.2f}"
        )


if __name__ == "__main__":
    main()
