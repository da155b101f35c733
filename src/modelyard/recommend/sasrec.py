"""SASRec (Kang & McAuley 2018, "Self-Attentive Sequential Recommendation"): a causal
Transformer over each user's items in time order, trained to predict the next item.

Which history a user is scored from: the network keeps a `history` buffer (users x
max_length item codes, left-padded with the pad code `items`), saved in weights.safetensors.
Training fills it from the training interactions, so validation (each epoch, and at the end)
scores each user after its training items; before test the Recommender sets it to the training
and validation interactions (recommend/build.SequenceTraining.remember), and the saved model
keeps that, so `recommend` and `evaluate` continue after the validation item. A user's last
`max_length` items count; one without training items is scored from an empty history.

The validation loss in the history (val_loss) is networks.py's objective of the same `loss`
on each held-out next item, scored after the history; the training loss is this module's.

Positions count from the end (0 = the latest item), so the same items give the same scores
whatever the padding, and a batch is cut to its longest history.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from modelyard.recommend.data import Interactions

Tensors = dict[str, torch.Tensor]


def _by_time(users: np.ndarray, times: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """users, times (N,) -> (order, from_end) (N,) each: the rows by user, then time, then row
    order; and for each row in that order, how many of its user's rows come after it."""
    order = np.lexsort((np.arange(len(users)), times, users))
    counts = np.bincount(users, minlength=n_users)
    by_user = users[order]
    from_end = counts[by_user] - 1 - (np.arange(len(order)) - (np.cumsum(counts) - counts)[by_user])
    return order, from_end


def last_items(
    users: np.ndarray, items: np.ndarray, times: np.ndarray, n_users: int, length: int, pad: int
) -> np.ndarray:
    """(n_users, length) int64: each user's last `length` items ordered by time (ties: by
    row order), the latest in the last column, left-padded with `pad`. users, items, times (N,)."""
    order, from_end = _by_time(users, times, n_users)
    by_user, by_item = users[order], items[order]
    keep = from_end < length
    out = np.full((n_users, length), pad, dtype=np.int64)
    out[by_user[keep], length - 1 - from_end[keep]] = by_item[keep]
    return out


def training_sequences(train: Interactions, max_length: int) -> Tensors:
    """{"sequence": (N, max_length + 1)}: each user's training items in time order (ties: by
    row order), cut from the latest backwards into windows of max_length + 1 that overlap by
    one item, so every item but a user's first is a target exactly once (inputs: all but the
    last column, targets: all but the first); left-padded with the pad code (the number of
    items); windows with fewer than 2 items are left out. A user with up to max_length + 1
    items gives one row, its whole history, as in the paper; longer histories give more rows
    instead of being cut (on MovieLens the last 51 items hold 29% of the interactions)."""
    pad, length = len(train.item_ids), max_length
    order, from_end = _by_time(train.users, train.times, len(train.user_ids))
    users, items = train.users[order], train.items[order]
    # window w holds from_end wL .. wL + L in columns L .. 0; an item at from_end wL (w > 0)
    # is also column 0 of window w - 1
    window = np.maximum(from_end - 1, 0) // length
    column = length - (from_end - window * length)
    again = (from_end % length == 0) & (from_end > 0)
    window = np.concatenate([window, from_end[again] // length])
    column = np.concatenate([column, np.full(again.sum(), length)])
    users, items = np.concatenate([users, users[again]]), np.concatenate([items, items[again]])
    rows, row = np.unique(users * (window.max(initial=0) + 1) + window, return_inverse=True)
    sequences = np.full((len(rows), length + 1), pad, dtype=np.int64)
    sequences[row, column] = items
    sequences = sequences[(sequences != pad).sum(1) >= 2]
    return {"sequence": torch.from_numpy(sequences)}


def _trim(sequences: torch.Tensor, pad: int) -> torch.Tensor:
    """(B, T) -> (B, T'): without the leading columns that are padding in every row (at least
    the last column stays)."""
    real = (sequences != pad).any(0)
    first = int(real.int().argmax()) if bool(real.any()) else sequences.shape[1] - 1
    return sequences[:, first:]


class _Block(nn.Module):
    """Pre-norm Transformer block: causal multi-head self-attention, then a position-wise
    feed-forward of width `dim` (as in the paper); residuals and dropout around both (not on
    the attention weights: B x T x T random draws, half the step's time on a CPU)."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ffn = nn.Sequential(
            nn.Linear(dim, dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(dim, dim)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        """h (B, T, dim), allowed (B, 1, T, T) bool (query may attend to key) -> (B, T, dim)."""
        b, t, d = h.shape
        qkv = self.qkv(self.norm1(h)).view(b, t, 3, self.heads, d // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, heads, T, d / heads)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        h = h + self.dropout(self.proj(attended.transpose(1, 2).reshape(b, t, d)))
        return h + self.dropout(self.ffn(self.norm2(h)))


class SASRec(nn.Module):
    """Item vectors (`items` + 1 rows, the last the padding) times sqrt(dim), plus learned
    positions counted from the end, through `layers` causal blocks and a final LayerNorm; the
    state at a position scores item i as state . q_i (the same item vectors). `users`: the
    rows of the history buffer (see the module's docstring)."""

    def __init__(
        self,
        users: int,
        items: int,
        dim: int,
        max_length: int,
        layers: int,
        heads: int,
        dropout: float,
    ):
        super().__init__()
        self.pad = items
        self.item = nn.Embedding(items + 1, dim, padding_idx=items)
        self.position = nn.Embedding(max_length, dim)
        nn.init.xavier_normal_(self.item.weight)
        nn.init.xavier_normal_(self.position.weight)
        with torch.no_grad():
            self.item.weight[items].zero_()
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(_Block(dim, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.register_buffer("history", torch.full((users, max_length), items, dtype=torch.int32))

    @property
    def items(self) -> int:
        return self.pad

    def remember(self, users: np.ndarray, items: np.ndarray, times: np.ndarray) -> None:
        """Set every user's history to its last max_length of these interactions (N,) each."""
        found = last_items(users, items, times, *self.history.shape, self.pad)
        self.history.copy_(torch.from_numpy(found))

    def encode(self, sequences: torch.Tensor) -> torch.Tensor:
        """sequences (B, T) item codes, T <= max_length, left-padded -> states (B, T, dim): the
        state at t reads only the items at t and before; padding is never attended to."""
        t = sequences.shape[1]
        real = sequences != self.pad  # (B, T)
        positions = torch.arange(t - 1, -1, -1, device=sequences.device)  # from the end
        h = self.item(sequences) * self.item.embedding_dim**0.5 + self.position(positions)
        h = self.dropout(h) * real[..., None]
        causal = torch.ones(t, t, dtype=torch.bool, device=sequences.device).tril()
        # a padding query sees itself alone (no empty softmax row); real ones never see padding
        allowed = causal & (real[:, None, :] | torch.eye(t, dtype=torch.bool, device=h.device))
        for block in self.blocks:
            h = block(h, allowed[:, None])
        return self.norm(h)

    def user_states(self, users: torch.Tensor) -> torch.Tensor:
        """users (U,) -> (U, dim): the state after each user's history."""
        return self.encode(_trim(self.history[users].long(), self.pad))[:, -1]

    def forward(
        self,
        users: torch.Tensor | None,
        items: torch.Tensor | None,
        all_pairs: bool = False,
        sequences: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Scores after each user's history: users, items (...) of the same shape -> (...);
        with `all_pairs`, users (B,) and items (C,) -> (B, C). Training passes `sequences`
        (B, T) instead (users and items None) and gets the states (B, T, dim) (`encode`)."""
        if sequences is not None:
            return self.encode(sequences)
        if all_pairs:
            return self.user_states(users) @ self.item(items).T
        unique, inverse = users.unique(return_inverse=True)
        return (self.user_states(unique)[inverse] * self.item(items)).sum(-1)

    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        """users (U,) -> scores of every item (U, items)."""
        return self.user_states(users) @ self.item.weight[: self.pad].T

    def penalty(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """items (B, ...): the squared norm of their vectors, divided by users.numel()."""
        return self.item(items).pow(2).sum() / users.numel()


def sequence_objective(
    loss: str, l2: float, negatives: int, generator: torch.Generator | None = None
):
    """(model, batch {"sequence": (B, max_length + 1)}) -> the mean over every position with
    a real input and a real next item of: `loss` "bpr", the paper's binary cross-entropy,
    -log sigmoid(s(next)) - mean over `negatives` uniform items j of log sigmoid(-s(j));
    "softmax", cross-entropy of the next item against `negatives` uniform items shared by the
    batch (a drawn item equal to the next one is masked); "full_softmax", cross-entropy of the
    next item over every item of the catalogue (Klenitskiy & Vasilev 2023; `negatives` unused).
    Plus `l2` x the squared norm of the scored item vectors per position (full_softmax: the
    next items'). `model`: the SASRec or its DDP wrapper (one forward)."""

    def objective(model: nn.Module, batch: Tensors) -> torch.Tensor:
        inner = getattr(model, "module", model)
        sequence = _trim(batch["sequence"], inner.pad)
        inputs, targets = sequence[:, :-1], sequence[:, 1:]
        real = (inputs != inner.pad) & (targets != inner.pad)  # (B, T)
        states = model(None, None, sequences=inputs)[real]  # (P, dim)
        targets = targets[real]  # (P,)
        if loss == "full_softmax":
            value = full_cross_entropy(states, inner.item.weight[: inner.pad], targets)
            return value + l2 * inner.penalty(targets, targets) if l2 else value
        positive = (states * inner.item(targets)).sum(-1)  # (P,)
        if loss == "softmax":
            drawn = torch.randint(
                inner.pad, (negatives,), device=states.device, generator=generator
            )
            negative = states @ inner.item(drawn).T  # (P, negatives)
            negative = negative.masked_fill(targets[:, None] == drawn, -torch.inf)
            logits = torch.cat([positive[:, None], negative], dim=1).float()
            value = F.cross_entropy(logits, torch.zeros_like(targets))
        else:
            shape = (len(targets), negatives)
            drawn = torch.randint(inner.pad, shape, device=states.device, generator=generator)
            negative = (states[:, None] * inner.item(drawn)).sum(-1)  # (P, negatives)
            value = -(F.logsigmoid(positive.float()) + F.logsigmoid(-negative.float()).mean(1))
            value = value.mean()
        if l2:
            value = value + l2 * inner.penalty(targets, torch.cat([targets, drawn.flatten()]))
        return value

    return objective


def full_cross_entropy(
    states: torch.Tensor, items: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """states (P, dim), items (I, dim) every item's vector, targets (P,) item codes -> the mean
    over P of -log softmax(states @ items.T)[target], the logits in float32. Memory stays
    bounded on large catalogues: rows are taken in chunks of at most `LOGITS_PER_CHUNK`
    logits, each recomputed in the backward pass (activation checkpointing) instead of kept."""
    return chunked_cross_entropy(lambda rows: states[rows] @ items.T, targets, len(items))


LOGITS_PER_CHUNK = 1 << 28  # 1 GB of float32 logits (and as much for their gradient): slicing
# costs 1.36x the time of one matrix (recomputation), so only catalogues that need it slice


def chunked_cross_entropy(logits_of, targets: torch.Tensor, classes: int) -> torch.Tensor:
    """The mean cross-entropy of (P, classes) logits against targets (P,), where
    `logits_of(rows)` gives the logits of a slice of rows: one call when they fit in
    `LOGITS_PER_CHUNK`, else slices, each under `torch.utils.checkpoint` so that only one
    slice's logits exist at a time. `logits_of` must not call a DDP-wrapped module (it may
    run several times per step)."""
    from torch.utils.checkpoint import checkpoint

    def summed(start: torch.Tensor, stop: torch.Tensor) -> torch.Tensor:
        rows = slice(int(start), int(stop))
        return F.cross_entropy(logits_of(rows).float(), targets[rows], reduction="sum")

    count = len(targets)
    per_chunk = max(1, LOGITS_PER_CHUNK // classes)
    if count <= per_chunk:
        return F.cross_entropy(logits_of(slice(0, count)).float(), targets)
    total = sum(
        checkpoint(
            summed, torch.tensor(i), torch.tensor(min(i + per_chunk, count)), use_reentrant=False
        )
        for i in range(0, count, per_chunk)
    )
    return total / count
