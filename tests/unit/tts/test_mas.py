"""Monotonic alignment search against a direct port of Glow-TTS's `maximum_path_each`
(Cython, one item at a time), and the length regulator."""

from __future__ import annotations

import numpy as np
import torch

from modelyard.tts.mas import gaussian_log_likelihood, monotonic_alignment
from modelyard.tts.network import _path


def reference_path(value: np.ndarray) -> np.ndarray:
    """Glow-TTS monotonic_align/core.pyx maximum_path_each, on a (L, T) log-likelihood."""
    t_x, t_y = value.shape
    value = value.copy()
    path = np.zeros_like(value)
    for y in range(t_y):
        for x in range(max(0, t_x + y - t_y), min(t_x, y + 1)):
            v_cur = -1e9 if x == y else value[x, y - 1]
            v_prev = value[x - 1, y - 1] if x > 0 else (0.0 if y == 0 else -1e9)
            value[x, y] += max(v_prev, v_cur)
    index = t_x - 1
    for y in range(t_y - 1, -1, -1):
        path[index, y] = 1
        if index != 0 and (index == y or value[index, y - 1] < value[index - 1, y - 1]):
            index -= 1
    return path


def test_matches_glow_tts_on_random_batches_of_different_lengths():
    rng = np.random.default_rng(0)
    symbols, frames = torch.tensor([5, 3, 7]), torch.tensor([12, 9, 7])
    log_p = torch.from_numpy(rng.normal(size=(3, 7, 12)).astype(np.float32))
    path = monotonic_alignment(log_p, symbols, frames)
    for i in range(3):
        s, f = int(symbols[i]), int(frames[i])
        expected = reference_path(log_p[i, :s, :f].numpy())
        np.testing.assert_array_equal(path[i, :s, :f].numpy(), expected)
        assert path[i, s:].sum() == 0 and path[i, :, f:].sum() == 0


def test_every_frame_one_symbol_in_order_each_symbol_at_least_once():
    torch.manual_seed(1)
    log_p = torch.randn(4, 6, 20)
    path = monotonic_alignment(log_p, torch.full((4,), 6), torch.full((4,), 20))
    assert torch.all(path.sum(1) == 1)
    assert torch.all(path.sum(2) >= 1)
    owner = path.argmax(1)  # (B, T) symbol of each frame
    assert torch.all(owner[:, 1:] >= owner[:, :-1])


def test_finds_the_durations_of_clear_frames():
    means = torch.eye(3)[None] * 5  # three symbols, far apart
    frames = torch.cat(
        [means[:, [0]].repeat(1, 2, 1), means[:, [1]].repeat(1, 4, 1), means[:, [2]]], 1
    )
    log_p = gaussian_log_likelihood(frames, means)
    path = monotonic_alignment(log_p, torch.tensor([3]), torch.tensor([7]))
    assert path.sum(-1).tolist() == [[2.0, 4.0, 1.0]]


def test_length_regulator_repeats_each_symbol_its_frames():
    path = _path(torch.tensor([[2, 1, 0], [1, 1, 1]]))
    assert path.shape == (2, 3, 3)
    assert path[0].argmax(0).tolist() == [0, 0, 1] and path[0, 2].sum() == 0
    assert path[1].argmax(0).tolist() == [0, 1, 2]
