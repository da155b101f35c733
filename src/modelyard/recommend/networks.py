"""Matrix factorisation and its training objectives (ratings: MSE; ranking: BPR, sampled
softmax, full softmax)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

Tensors = dict[str, torch.Tensor]


class MatrixFactorization(nn.Module):
    """score(u, i) = p_u . q_i (+ b_u + b_i + mean): `users` x `dim` and `items` x `dim`
    embeddings, with `biases` a bias per user and item and the global mean rating."""

    def __init__(self, users: int, items: int, dim: int, biases: bool, mean: float = 0.0):
        super().__init__()
        self.user = nn.Embedding(users, dim)
        self.item = nn.Embedding(items, dim)
        nn.init.normal_(self.user.weight, std=0.1)
        nn.init.normal_(self.item.weight, std=0.1)
        self.biases = biases
        if biases:
            self.user_bias = nn.Embedding(users, 1)
            self.item_bias = nn.Embedding(items, 1)
            nn.init.zeros_(self.user_bias.weight)
            nn.init.zeros_(self.item_bias.weight)
        self.register_buffer("mean", torch.tensor(float(mean)))

    @property
    def items(self) -> int:
        return self.item.num_embeddings

    def forward(
        self, users: torch.Tensor, items: torch.Tensor, all_pairs: bool = False
    ) -> torch.Tensor:
        """users, items: (...) int64 of the same shape -> scores (...); with `all_pairs`,
        users (B,) and items (C,) -> scores of every pair (B, C)."""
        if all_pairs:
            score = self.user(users) @ self.item(items).T
            if self.biases:
                score = score + self.user_bias(users) + self.item_bias(items).T
            return score + self.mean
        score = (self.user(users) * self.item(items)).sum(-1)
        if self.biases:
            score = score + self.user_bias(users)[..., 0] + self.item_bias(items)[..., 0]
        return score + self.mean

    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        """users (U,) -> scores of every item (U, items)."""
        score = self.user(users) @ self.item.weight.T
        if self.biases:
            score = score + self.user_bias(users) + self.item_bias.weight.T
        return score + self.mean

    def item_vectors(self) -> torch.Tensor:
        """(items, dim): the item embeddings (similar items: their cosine similarity)."""
        return self.item.weight

    def penalty(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """users (B,), items (B, ...): the squared norm of their embeddings (and biases),
        divided by B: a scalar."""
        total = self.user(users).pow(2).sum() + self.item(items).pow(2).sum()
        if self.biases:
            total = total + self.user_bias(users).pow(2).sum() + self.item_bias(items).pow(2).sum()
        return total / users.numel()


def ratings_objective(l2: float):
    """(model, batch {user, item, rating: (B,)}) -> mean squared error (+ l2 penalty).
    `model`: the MatrixFactorization, or its DDP wrapper (one forward call per step)."""

    def objective(model: nn.Module, batch: Tensors) -> torch.Tensor:
        predicted = model(batch["user"], batch["item"])
        loss = F.mse_loss(predicted.float(), batch["rating"])
        if l2:
            loss = loss + l2 * _inner(model).penalty(batch["user"], batch["item"])
        return loss

    return objective


def ranking_objective(l2: float, negatives: int, generator: torch.Generator | None = None):
    """BPR: (model, batch {user, item: (B,)}) -> -log sigmoid(s(u, i) - s(u, j)), averaged
    over (B, negatives) items j drawn uniformly on the batch's device (from `generator`, or
    torch's default one: seeded per epoch by the loop, so a resume draws alike). A drawn item
    may be one the user knows (rare in a large catalogue; the usual BPR sampling)."""

    def objective(model: nn.Module, batch: Tensors) -> torch.Tensor:
        users, items = batch["user"], batch["item"]
        inner = _inner(model)
        drawn = torch.randint(
            inner.items, (len(users), negatives), device=users.device, generator=generator
        )
        candidates = torch.cat([items[:, None], drawn], dim=1)  # (B, 1 + negatives)
        scores = model(users[:, None].expand_as(candidates), candidates).float()
        loss = -F.logsigmoid(scores[:, :1] - scores[:, 1:]).mean()
        if l2:
            loss = loss + l2 * inner.penalty(users, candidates)
        return loss

    return objective


def softmax_objective(
    l2: float,
    negatives: int,
    generator: torch.Generator | None = None,
    frequency: torch.Tensor | None = None,
):
    """Sampled softmax: (model, batch {user, item: (B,)}) -> cross-entropy of each user's
    item among the batch's other items (in-batch negatives) and `negatives` items drawn
    uniformly on the device, shared by the batch. Another row's item equal to the user's own
    is masked (not a negative).

    In-batch negatives are drawn by popularity, which pushes popular items down. With
    `frequency` ((items,): each item's share of the training interactions) every logit is
    corrected by the log of the item's expected count among the candidates,
    log(B x frequency + negatives / items) (the "logQ" correction of Yi et al., RecSys 2019)."""

    def objective(model: nn.Module, batch: Tensors) -> torch.Tensor:
        users, items = batch["user"], batch["item"]
        inner = _inner(model)
        drawn = torch.randint(inner.items, (negatives,), device=users.device, generator=generator)
        candidates = torch.cat([items, drawn])  # (B + negatives,)
        logits = model(users, candidates, all_pairs=True).float()  # (B, B + negatives)
        if frequency is not None:
            expected = len(items) * frequency.to(users.device)[candidates] + negatives / inner.items
            logits = logits - expected.log()[None, :]
        same = items[:, None] == candidates[None, :]
        same[:, : len(items)].fill_diagonal_(False)
        loss = F.cross_entropy(
            logits.masked_fill(same, -torch.inf), torch.arange(len(users), device=users.device)
        )
        if l2:
            loss = loss + l2 * inner.penalty(users, items)
        return loss

    return objective


def full_softmax_objective(l2: float):
    """Full softmax: (model, batch {user, item: (B,)}) -> the mean over B of the cross-entropy
    of each user's item over every item of the catalogue (no sampling, no correction needed;
    B x items scores per step, cheap for catalogues up to about 100k items). Any network that
    scores all pairs (forward with `all_pairs`) takes it."""

    def objective(model: nn.Module, batch: Tensors) -> torch.Tensor:
        users, items = batch["user"], batch["item"]
        inner = _inner(model)
        every = torch.arange(inner.items, device=users.device)
        logits = model(users, every, all_pairs=True).float()  # (B, items)
        loss = F.cross_entropy(logits, items)
        if l2:
            loss = loss + l2 * inner.penalty(users, items)
        return loss

    return objective


def _inner(model: nn.Module) -> MatrixFactorization:
    """The MatrixFactorization itself, also when the loop hands its DDP wrapper."""
    return getattr(model, "module", model)
