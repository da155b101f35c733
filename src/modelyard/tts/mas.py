"""Monotonic alignment search (Glow-TTS, Kim et al. 2020): the most likely monotonic path of
symbols over frames, every symbol at least one frame, under per-symbol log-likelihoods.

Hand-written in torch because no maintained library provides it: Glow-TTS, VITS and Matcha
each ship their own Cython/numba copy inside their model code (`monotonic_align`), none is
on PyPI as a library we could depend on. This version runs vectorised over the batch (one
loop step per frame), no gradient: the path is a target, like a label.
"""

from __future__ import annotations

import torch

NEG = -1e9


@torch.no_grad()
def gaussian_log_likelihood(frames: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
    """(B, T, C) frames, (B, L, C) unit-variance Gaussian means -> (B, L, T) log-likelihood
    of each frame under each symbol (constant terms dropped)."""
    frames, means = frames.float(), means.float()
    cross = means @ frames.transpose(1, 2)  # (B, L, T)
    return cross - 0.5 * (means**2).sum(-1, keepdim=True) - 0.5 * (frames**2).sum(-1)[:, None, :]


@torch.no_grad()
def monotonic_alignment(
    log_p: torch.Tensor, symbols: torch.Tensor, frames: torch.Tensor
) -> torch.Tensor:
    """(B, L, T) log-likelihoods, (B,) symbol counts, (B,) frame counts (each >= its symbol
    count) -> (B, L, T) 0/1 path: each real frame belongs to exactly one symbol, symbols in
    order, each symbol at least one frame."""
    b, length, time = log_p.shape
    rows = torch.arange(length, device=log_p.device)
    valid = rows[None, :] < symbols[:, None]  # (B, L)
    log_p = log_p.float().masked_fill(~valid[:, :, None], NEG)
    score = torch.full((b, length), NEG, device=log_p.device)
    score[:, 0] = log_p[:, 0, 0]
    stay = torch.zeros(b, length, time, dtype=torch.bool, device=log_p.device)
    for t in range(1, time):
        moved = torch.cat([torch.full((b, 1), NEG, device=log_p.device), score[:, :-1]], dim=1)
        stay[:, :, t] = score >= moved
        score = torch.maximum(score, moved) + log_p[:, :, t]
    return _backtrack(stay, symbols, frames)


def _backtrack(stay: torch.Tensor, symbols: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    b, length, time = stay.shape
    path = torch.zeros(b, length, time, device=stay.device)
    at = (symbols - 1).clone()
    items = torch.arange(b, device=stay.device)
    for t in range(time - 1, -1, -1):
        active = t < frames
        path[items, at, t] = active.float()
        step = active & ~stay[items, at, t] & (at > 0)
        at = at - step.long()
    return path
