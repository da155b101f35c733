"""The only place a recommendation config's `model` section becomes an nn.Module: one
registry of networks, one per `model.type`.

Every network answers the calls the objectives (networks.py), the metrics and `recommend`
make: forward(users, items[, all_pairs]) -> scores, score_all(users) -> (U, items) scores,
penalty(users, items) -> scalar, and the `items` property (the catalogue's size). A network
may also give item_vectors() -> (items, D): `recommend --similar-to` ranks items by their
cosine similarity (without it, similar items are a clear error).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from modelyard.recommend.data import Interactions
from modelyard.registry import Registry


@dataclass
class NetworkData:
    """What a network is built from: the id counts, the mean training rating (objective
    ratings, with biases), and at training time the training interactions (None at load:
    a network that needs them keeps what it needs in its state dict)."""

    users: int
    items: int
    mean: float = 0.0
    train: Interactions | None = None


NETWORKS: Registry[Callable[..., nn.Module]] = Registry("recommendation model type")


@NETWORKS.register("mf")
def _matrix_factorization(settings, data: NetworkData) -> nn.Module:
    from modelyard.recommend.networks import MatrixFactorization

    mean = data.mean if settings.biases else 0.0
    return MatrixFactorization(data.users, data.items, settings.dim, settings.biases, mean)


def build_network(settings, data: NetworkData) -> nn.Module:
    """`settings`: the config's `model` section."""
    return NETWORKS.get(settings.type)(settings, data)
