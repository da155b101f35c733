"""Parity of `SelfAttention` with softmax(QK^T / sqrt(d) + mask) V written out by hand."""

from __future__ import annotations

import math

import torch

from modelyard.models.encoders.transformer import SelfAttention, TextTransformer

B, L, D, HEADS = 3, 6, 8, 2


def _reference(module: SelfAttention, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, L, D), (B, L) bool -> (B, L, D) with the module's own weights, one head at a time."""
    dh = D // HEADS
    q, k, v = (x @ module.qkv.weight.T + module.qkv.bias).split(D, dim=-1)
    bias = torch.zeros(B, 1, L).masked_fill(~mask.view(B, 1, L), float("-inf"))  # per key
    heads = []
    for h in range(HEADS):
        part = slice(h * dh, (h + 1) * dh)
        scores = q[..., part] @ k[..., part].transpose(1, 2) / math.sqrt(dh) + bias  # (B, L, L)
        heads.append(torch.softmax(scores, dim=-1) @ v[..., part])
    return torch.cat(heads, dim=-1) @ module.out.weight.T + module.out.bias


def _inputs() -> tuple[SelfAttention, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    module = SelfAttention(D, HEADS, dropout=0.5).eval()
    x = torch.randn(B, L, D)
    lengths = torch.tensor([L, 4, 1])
    mask = torch.arange(L).view(1, L) < lengths.view(B, 1)
    return module, x, mask


def test_self_attention_matches_hand_written_attention() -> None:
    module, x, mask = _inputs()
    torch.testing.assert_close(module(x, mask), _reference(module, x, mask), rtol=1e-5, atol=1e-6)


def test_self_attention_without_padding_matches() -> None:
    module, x, _ = _inputs()
    full = torch.ones(B, L, dtype=torch.bool)
    torch.testing.assert_close(module(x, full), _reference(module, x, full), rtol=1e-5, atol=1e-6)


def test_masked_key_has_no_influence() -> None:
    module, x, mask = _inputs()
    changed = x.clone()
    changed[1, 4:] = 100 * torch.randn(L - 4, D)  # row 1 has 4 real tokens
    before, after = module(x, mask), module(changed, mask)
    torch.testing.assert_close(after[1, :4], before[1, :4], rtol=0, atol=1e-6)
    torch.testing.assert_close(after[[0, 2]], before[[0, 2]], rtol=0, atol=0)


def test_dropout_only_in_training() -> None:
    module, x, mask = _inputs()
    assert torch.equal(module(x, mask), module(x, mask))
    module.train()
    assert not torch.equal(module(x, mask), module(x, mask))


def test_cls_pooling_reads_the_prepended_cls_token() -> None:
    """Pooling `cls` prepends id 2 and returns position 0 of the last layer, normalised."""
    torch.manual_seed(0)
    model = TextTransformer(10, L, D, 1, HEADS, 2, "cls", 0.0).eval()
    tokens = torch.tensor([[5, 6, 7, 0], [3, 0, 0, 0]])
    with_cls = torch.cat([torch.full((2, 1), 2), tokens], dim=1)
    mask = with_cls != 0
    x = model.tokens(with_cls) + model.positions(torch.arange(with_cls.shape[1]))
    for block in model.blocks:
        x = block(x, mask)
    torch.testing.assert_close(model(tokens), model.norm(x)[:, 0])
