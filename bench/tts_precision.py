"""bf16 autocast vs fp32 for the text-to-speech acoustic model's training step on the CPU.

Baseline: fp32. Prints seconds per step (batch 16 x 90 symbols x 450 frames, the size of
examples/tts batches) and the ratio bf16 / fp32, plus the MAS share of a step.
Run: OMP_NUM_THREADS=1 python bench/tts_precision.py
"""

from __future__ import annotations

import time

import torch

from modelyard.tts.mas import gaussian_log_likelihood, monotonic_alignment
from modelyard.tts.network import AcousticModel


def step_seconds(model, batch, bf16: bool, steps: int = 3) -> float:
    optimizer = torch.optim.AdamW(model.parameters(), 1e-3)
    times = []
    for _ in range(steps + 1):
        began = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(batch)["loss"]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - began)
    return sorted(times[1:])[len(times[1:]) // 2]


def main() -> None:
    torch.manual_seed(0)
    b = 16
    batch = {
        "tokens": torch.randint(1, 60, (b, 90)),
        "speaker": torch.zeros(b, dtype=torch.long),
        "mel": torch.randn(b, 80, 450),
        "frames": torch.full((b,), 450),
    }
    model = AcousticModel(60, 4, 80)
    fp32 = step_seconds(model, batch, False)
    bf16 = step_seconds(model, batch, True)
    began = time.perf_counter()
    log_p = gaussian_log_likelihood(torch.randn(b, 225, 160), torch.randn(b, 90, 160))
    monotonic_alignment(log_p, torch.full((b,), 90), torch.full((b,), 225))
    mas = time.perf_counter() - began
    print(f"fp32 step {fp32:.3f} s  bf16 step {bf16:.3f} s  ratio bf16/fp32 {bf16 / fp32:.2f}")
    print(f"MAS of one batch {mas:.3f} s ({mas / fp32:.0%} of an fp32 step)")


if __name__ == "__main__":
    main()
