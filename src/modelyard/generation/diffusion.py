"""DDPM training (epsilon prediction) and DDIM sampling with classifier-free guidance.

Ho et al. 2020 (training), Song et al. 2021 (DDIM: a deterministic sampler on a subset of
the training steps), Nichol & Dhariwal 2021 (cosine schedule), Ho & Salimans 2022 (guidance).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def alpha_bars(schedule: str, steps: int) -> torch.Tensor:
    """(steps,) float64 cumulative signal fractions alpha_bar_t, t = 1..steps (decreasing)."""
    if schedule == "linear":
        betas = torch.linspace(1e-4, 0.02, steps, dtype=torch.float64) * (1000 / steps)
        return torch.cumprod(1 - betas.clamp(max=0.999), 0)
    s = 0.008
    t = torch.arange(steps + 1, dtype=torch.float64) / steps
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - betas, 0)


def diffusion_loss(
    denoiser: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | None,
    abar: torch.Tensor,
    drop_label: float,
) -> torch.Tensor:
    """Mean squared error of the predicted noise. images (B, C, H, W) in [-1, 1], labels (B,)
    or None, abar (T,) on the images' device; a `drop_label` share of the labels becomes the
    "no class" token (index = number of classes) so that one network learns both."""
    b = images.shape[0]
    steps = torch.randint(0, abar.shape[0], (b,), device=images.device)
    a = abar[steps].float().view(b, 1, 1, 1)
    noise = torch.randn_like(images)
    noisy = a.sqrt() * images + (1 - a).sqrt() * noise
    if labels is not None and drop_label > 0:
        none = torch.full_like(labels, denoiser.classes)
        labels = torch.where(torch.rand(b, device=labels.device) < drop_label, none, labels)
    predicted = denoiser(noisy, (steps.float() + 1) / abar.shape[0], labels)
    return F.mse_loss(predicted.float(), noise)


@torch.no_grad()
def ddim_sample(
    denoiser: nn.Module,
    noise: torch.Tensor,
    labels: torch.Tensor | None,
    abar: torch.Tensor,
    steps: int,
    guidance: float,
) -> torch.Tensor:
    """noise (B, C, H, W) -> images (B, C, H, W) in [-1, 1] after `steps` deterministic DDIM
    steps (eta 0). With labels and guidance != 1: eps = eps_none + guidance * (eps_class -
    eps_none), both from one batch of 2B."""
    total = abar.shape[0]
    times = torch.linspace(total - 1, 0, steps, device=noise.device).round().long()
    x = noise
    guided = labels is not None and guidance != 1.0
    for i, t in enumerate(times.tolist()):
        eps = _noise(denoiser, x, t, total, labels, guidance if guided else None)
        a = abar[t].float()
        a_prev = abar[times[i + 1]].float() if i + 1 < len(times) else torch.tensor(1.0)
        x0 = ((x - (1 - a).sqrt() * eps) / a.sqrt()).clamp(-1, 1)
        eps = (x - a.sqrt() * x0) / (1 - a).sqrt()  # consistent with the clamped x0
        x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
    return x.clamp(-1, 1)


def _noise(denoiser, x, t: int, total: int, labels, guidance: float | None) -> torch.Tensor:
    """(B, C, H, W) predicted noise at step t, guided when `guidance` is a number."""
    b = x.shape[0]
    time = torch.full((b,), (t + 1) / total, device=x.device)
    if guidance is None:
        return denoiser(x, time, labels).float()
    none = torch.full_like(labels, denoiser.classes)
    both = denoiser(torch.cat([x, x]), torch.cat([time, time]), torch.cat([labels, none])).float()
    conditional, unconditional = both[:b], both[b:]
    return unconditional + guidance * (conditional - unconditional)


class Ema:
    """Averaged weights: after each optimizer step, ema = d * ema + (1 - d) * weights with
    d = min(decay, (1 + step) / (10 + step)) (diffusers' EMAModel warm-up): early on the average
    follows the weights closely, so a short run's EMA weights are not the random start's."""

    def __init__(self, decay: float):
        self.decay = decay

    def rate(self, step: int) -> float:
        return min(self.decay, (1 + step) / (10 + step))

    @torch.no_grad()
    def update(self, averaged: nn.Module, trained: nn.Module, step: int) -> None:
        d = self.rate(step)
        for a, w in zip(averaged.parameters(), trained.parameters(), strict=True):
            a.lerp_(w.detach(), 1 - d)
        for a, w in zip(averaged.buffers(), trained.buffers(), strict=True):
            a.copy_(w)
