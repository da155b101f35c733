"""The two-tower model: a user tower and an item tower, each from an optional id embedding
and side features through the supervised encoders (models/build.ENCODERS), scored by a dot
product or a cosine with a temperature."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from modelyard.models.encoders.common import mlp


class Tower(nn.Module):
    """codes (N,) int64 -> vectors (N, dim).

    `known` (n,) bool: the codes with training interactions (at load: all False, the saved
    `id_index` says); with `use_id`, each of them has its own learned vector and every other
    code the shared zero vector (row 0), which
    `id_dropout` also gives to training codes at that rate. `features` {name: (n, ...)}: each
    code's preprocessed side features (kept as buffers, not saved: they are transformed from
    the saved side table at load), encoded by `encoders` {name: module with output_size}.
    The encodings and id vector are concatenated, then `hidden` layers and a linear map to
    `dim`. An encoder without trainable parameters (a pretrained text encoder with `freeze:
    all`) always gives the same vector per code: it runs once over every code (in eval mode:
    no dropout) and its vectors are looked up after that, which makes minilm titles cheap."""

    def __init__(
        self,
        known: torch.Tensor,
        use_id: bool,
        id_dropout: float,
        features: dict[str, torch.Tensor],
        encoders: dict[str, nn.Module],
        hidden: list[int],
        dropout: float,
        dim: int,
    ):
        super().__init__()
        index = torch.where(known, torch.arange(1, len(known) + 1), 0)
        self.register_buffer("id_index", index)  # (n,): code + 1, or 0 = no training interactions
        self.id = nn.Embedding(len(known) + 1, dim, padding_idx=0) if use_id else None
        if self.id is not None:
            nn.init.normal_(self.id.weight, std=0.1)
            with torch.no_grad():
                self.id.weight[0].zero_()
        self.id_dropout = id_dropout
        self.names = list(encoders)
        for name in self.names:
            self.register_buffer(f"feature_{name}", features[name], persistent=False)
        self.encoders = nn.ModuleDict(encoders)
        self._fixed: dict[str, torch.Tensor] = {}  # {name: (n, output_size)} of frozen encoders
        width = (dim if use_id else 0) + sum(e.output_size for e in encoders.values())
        self.body = mlp(width, hidden, dropout)
        self.out = nn.Linear(hidden[-1] if hidden else width, dim)

    def __len__(self) -> int:
        return len(self.id_index)

    def extend(self, features: dict[str, torch.Tensor]) -> None:
        """Take `features` {name: (n', ...)} for n' >= n codes: the first n as before, the
        new ones without an id vector (no training interactions)."""
        added = len(next(iter(features.values()))) - len(self)
        self.id_index = torch.cat([self.id_index, self.id_index.new_zeros(added)])
        for name in self.names:
            setattr(self, f"feature_{name}", features[name].to(self.id_index.device))
        self._fixed = {}

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        parts = []
        if self.id is not None:
            index = self.id_index[codes]
            if self.training and self.id_dropout:
                keep = torch.rand(index.shape, device=index.device) >= self.id_dropout
                index = index * keep
            parts.append(self.id(index))
        for name in self.names:
            parts.append(self._encode(name, codes))
        return self.out(self.body(torch.cat(parts, dim=-1)))

    def _encode(self, name: str, codes: torch.Tensor) -> torch.Tensor:
        """(N,) codes -> (N, output_size) encodings of feature `name`."""
        encoder, feature = self.encoders[name], getattr(self, f"feature_{name}")
        if any(p.requires_grad for p in encoder.parameters()):
            return encoder(_rows(feature, codes))
        fixed = self._fixed.get(name)
        if fixed is None or fixed.device != codes.device:
            fixed = self._fixed[name] = self._encode_all(encoder, feature)
        return fixed[codes]

    @torch.no_grad()
    def _encode_all(self, encoder: nn.Module, feature: torch.Tensor, chunk: int = 512):
        """(n, output_size): every code through a frozen `encoder`, in eval mode."""
        was_training = encoder.training
        encoder.eval()
        codes = torch.arange(len(feature), device=feature.device)
        found = torch.cat(
            [encoder(_rows(feature, codes[i : i + chunk])) for i in range(0, len(codes), chunk)]
        )
        encoder.train(was_training)
        return found

    def ids(self, codes: torch.Tensor) -> torch.Tensor:
        """(N, dim) the id vectors of `codes` (zeros without an id embedding)."""
        if self.id is None:
            return torch.zeros(len(codes), 1, device=codes.device)
        return self.id(self.id_index[codes])


class TwoTower(nn.Module):
    """score(u, i) = user_tower(u) . item_tower(i), or their cosine / `temperature`, plus
    `mean` (the mean training rating for objective ratings, else 0).

    Answers what recommend/build.py's networks answer; evaluation (no gradients, eval mode)
    encodes all items once, `item_chunk` at a time, and keeps them until the next `train()`."""

    def __init__(
        self,
        users: Tower,
        items: Tower,
        similarity: str,
        temperature: float,
        item_chunk: int,
        mean: float = 0.0,
    ):
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.user_tower, self.item_tower = users, items
        self.cosine = similarity == "cosine"
        self.temperature = temperature
        self.item_chunk = item_chunk
        self._cached: torch.Tensor | None = None

    @property
    def items(self) -> int:
        return len(self.item_tower)

    def train(self, mode: bool = True) -> TwoTower:
        self._cached = None  # weights may change from here on
        return super().train(mode)

    def _vectors(self, tower: Tower, codes: torch.Tensor) -> torch.Tensor:
        vectors = tower(codes)
        return F.normalize(vectors, dim=-1) if self.cosine else vectors

    def _scale(self, scores: torch.Tensor) -> torch.Tensor:
        return (scores / self.temperature if self.cosine else scores) + self.mean

    def forward(
        self, users: torch.Tensor, items: torch.Tensor, all_pairs: bool = False
    ) -> torch.Tensor:
        """users, items: (...) int64 of the same shape -> scores (...); with `all_pairs`,
        users (B,) and items (C,) -> scores of every pair (B, C). Each distinct user and item
        is encoded once."""
        if all_pairs:
            u = self._vectors(self.user_tower, users)
            return self._scale(u @ self._vectors(self.item_tower, items).T)
        u_codes, u_at = users.reshape(-1).unique(return_inverse=True)
        i_codes, i_at = items.reshape(-1).unique(return_inverse=True)
        u = self._vectors(self.user_tower, u_codes)[u_at]
        i = self._vectors(self.item_tower, i_codes)[i_at]
        return self._scale((u * i).sum(-1)).reshape(users.shape)

    def item_vectors(self) -> torch.Tensor:
        """(items, dim) every item's vector, `item_chunk` items at a time; kept while the
        network stays in eval mode without gradients."""
        if self._cached is not None:
            return self._cached
        device = self.item_tower.id_index.device
        codes = torch.arange(self.items, device=device)
        vectors = torch.cat(
            [
                self._vectors(self.item_tower, codes[start : start + self.item_chunk])
                for start in range(0, self.items, self.item_chunk)
            ]
        )
        if not self.training and not torch.is_grad_enabled():
            self._cached = vectors
        return vectors

    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        """users (U,) -> scores of every item (U, items)."""
        return self._scale(self._vectors(self.user_tower, users) @ self.item_vectors().T)

    def penalty(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """users (B,), items (B, ...): the squared norm of their id vectors, divided by B."""
        total = self.user_tower.ids(users).pow(2).sum()
        total = total + self.item_tower.ids(items.reshape(-1)).pow(2).sum()
        return total / users.numel()


def _rows(feature: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """The rows of a side feature's tensor for `codes`, as its encoder takes them: numbers
    (n,) -> (N, 1); (n, 2, K) n-grams and counts (bow) or ids and mask (pretrained), padded
    to the catalogue's longest, cut to the longest of these rows (a few long titles would
    otherwise make every batch pay for their length)."""
    x = feature[codes]
    if x.dtype.is_floating_point and x.dim() == 1:
        return x.unsqueeze(-1)
    if x.dim() == 3 and not x.dtype.is_floating_point and len(x):
        length = max(1, int((x[:, 1] != 0).sum(1).max()))
        return x[:, :, :length]
    return x
