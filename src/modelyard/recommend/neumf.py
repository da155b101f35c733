"""NeuMF (He et al. 2017, "Neural Collaborative Filtering"): a GMF branch and an MLP branch
over separate user and item vectors, joined by one linear score."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

# The most hidden activations (float32) one all-pairs call holds at once: 2^24 is 64 MB. The
# MLP's first layer is split into a user part and an item part, so a chunk of users x items
# costs users x chunk x layers[0] activations; items are cut into chunks to stay under it.
HIDDEN_BUDGET = 2**24


class NeuMF(nn.Module):
    """score(u, i) = w . [p_u * q_i, MLP([p'_u, q'_i])] + b: `dim`-sized GMF vectors p, q and
    MLP vectors p', q' per user and item; the MLP has `layers` (ReLU, `dropout`); b starts at
    `mean` (the mean training rating, objective ratings; 0 for ranking)."""

    def __init__(
        self,
        users: int,
        items: int,
        dim: int,
        layers: Sequence[int],
        dropout: float,
        mean: float = 0.0,
        hidden_budget: int = HIDDEN_BUDGET,
    ):
        super().__init__()
        self.user = nn.Embedding(users, dim)  # GMF
        self.item = nn.Embedding(items, dim)
        self.mlp_user = nn.Embedding(users, dim)
        self.mlp_item = nn.Embedding(items, dim)
        for table in (self.user, self.item, self.mlp_user, self.mlp_item):
            nn.init.normal_(table.weight, std=0.1)
        # the first layer as a user part and an item part: W [p'; q'] = W_u p' + W_i q'
        self.first_user = nn.Linear(dim, layers[0], bias=False)
        self.first_item = nn.Linear(dim, layers[0])
        rest: list[nn.Module] = [nn.ReLU(), nn.Dropout(dropout)]
        for width_in, width in zip(layers[:-1], layers[1:], strict=True):
            rest += [nn.Linear(width_in, width), nn.ReLU(), nn.Dropout(dropout)]
        self.mlp = nn.Sequential(*rest)
        self.gmf_out = nn.Linear(dim, 1, bias=False)
        self.mlp_out = nn.Linear(layers[-1], 1)
        nn.init.constant_(self.mlp_out.bias, float(mean))
        self.hidden_budget = hidden_budget

    @property
    def items(self) -> int:
        return self.item.num_embeddings

    def forward(
        self, users: torch.Tensor, items: torch.Tensor, all_pairs: bool = False
    ) -> torch.Tensor:
        """users, items: (...) int64 of the same shape -> scores (...); with `all_pairs`,
        users (B,) and items (C,) -> scores of every pair (B, C), items cut into chunks so that
        at most `hidden_budget` hidden activations are held at once (beyond autograd's)."""
        if all_pairs:
            return self._all_pairs(users, items)
        gmf = self.gmf_out(self.user(users) * self.item(items))[..., 0]
        hidden = self.first_user(self.mlp_user(users)) + self.first_item(self.mlp_item(items))
        return gmf + self.mlp_out(self.mlp(hidden))[..., 0]

    def _all_pairs(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """users (B,), items (C,) -> (B, C)."""
        # GMF is linear in the product: w . (p_u * q_i) = (w * p_u) . q_i
        user_gmf = self.user(users) * self.gmf_out.weight  # (B, dim)
        user_mlp = self.first_user(self.mlp_user(users))[:, None]  # (B, 1, layers[0])
        width = self.first_item.out_features
        chunk = max(1, self.hidden_budget // max(len(users) * width, 1))
        parts = []
        for start in range(0, len(items), chunk):
            part = items[start : start + chunk]
            hidden = user_mlp + self.first_item(self.mlp_item(part))[None]  # (B, c, layers[0])
            mlp = self.mlp_out(self.mlp(hidden))[..., 0]  # (B, c)
            parts.append(user_gmf @ self.item(part).T + mlp)
        return torch.cat(parts, dim=1)

    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        """users (U,) -> scores of every item (U, items), in chunks of items (see forward)."""
        return self._all_pairs(users, torch.arange(self.items, device=users.device))

    def penalty(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """users (B,), items (B, ...): the squared norm of their GMF and MLP vectors, divided
        by B: a scalar."""
        total = self.user(users).pow(2).sum() + self.mlp_user(users).pow(2).sum()
        total = total + self.item(items).pow(2).sum() + self.mlp_item(items).pow(2).sum()
        return total / users.numel()
