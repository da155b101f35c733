"""The only place a recommendation config's `model` section becomes an nn.Module: one
registry of networks, one per `model.type`.

Every network answers the calls the objectives (networks.py), the metrics and `recommend`
make: forward(users, items[, all_pairs]) -> scores, score_all(users) -> (U, items) scores,
penalty(users, items) -> scalar, and the `items` property (the catalogue's size). A network
may also give item_vectors() -> (items, D): `recommend --similar-to` ranks items by their
cosine similarity (without it, similar items are a clear error).

A model type that reads each user's history (sasrec) also has a `SequenceTraining` in
SEQUENCES: its own training rows and objective, and how it learns which items a user has.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from modelyard.recommend.data import Interactions
from modelyard.registry import Registry


@dataclass
class NetworkData:
    """What a network is built from: the id counts, the mean training rating (objective
    ratings, with biases), at training time the training interactions (None at load:
    a network that needs them keeps what it needs in its state dict), and the fitted side
    tables {"items" / "users": side.SideTable} (recommend/side.py)."""

    users: int
    items: int
    mean: float = 0.0
    train: Interactions | None = None
    sides: dict = field(default_factory=dict)


NETWORKS: Registry[Callable[..., nn.Module]] = Registry("recommendation model type")


@NETWORKS.register("mf")
def _matrix_factorization(settings, data: NetworkData) -> nn.Module:
    from modelyard.recommend.networks import MatrixFactorization

    mean = data.mean if settings.biases else 0.0
    return MatrixFactorization(data.users, data.items, settings.dim, settings.biases, mean)


@NETWORKS.register("neumf")
def _neumf(settings, data: NetworkData) -> nn.Module:
    from modelyard.recommend.neumf import NeuMF

    return NeuMF(data.users, data.items, settings.dim, settings.layers, settings.dropout, data.mean)


@NETWORKS.register("sasrec")
def _sasrec(settings, data: NetworkData) -> nn.Module:
    from modelyard.recommend.sasrec import SASRec

    network = SASRec(
        data.users,
        data.items,
        settings.dim,
        settings.max_length,
        settings.layers,
        settings.heads,
        settings.dropout,
    )
    if data.train is not None:
        _remember(network, data.train)
    return network


@dataclass(frozen=True)
class SequenceTraining:
    """A model type that reads each user's history instead of training on one row per
    interaction with networks.py's objectives.

    rows(settings, train interactions) -> the training tensors {name: (N, ...)};
    objective(settings) -> (network, batch) -> loss;
    remember(network, interactions): score each user after these (its known history): the
    network's state, saved with its weights. The Recommender calls it with train +
    validation before measuring test, so the saved model continues from there too.
    """

    rows: Callable[[Any, Interactions], dict[str, torch.Tensor]]
    objective: Callable[[Any], Callable[..., torch.Tensor]]
    remember: Callable[[nn.Module, Interactions], None]


def _sasrec_rows(settings, train: Interactions) -> dict[str, torch.Tensor]:
    from modelyard.recommend.sasrec import training_sequences

    return training_sequences(train, settings.max_length)


def _sasrec_objective(settings):
    from modelyard.recommend.sasrec import sequence_objective

    return sequence_objective(settings.loss, settings.l2, settings.negatives)


def _remember(network: nn.Module, known: Interactions) -> None:
    network.remember(known.users, known.items, known.times)


SEQUENCES: dict[str, SequenceTraining] = {
    "sasrec": SequenceTraining(_sasrec_rows, _sasrec_objective, _remember)
}


@NETWORKS.register("two_tower")
def _two_tower(settings, data: NetworkData) -> nn.Module:
    from modelyard.recommend.towers import TwoTower

    users = _tower(settings, data, "users", data.users, settings.user_id)
    items = _tower(settings, data, "items", data.items, settings.item_id)
    return TwoTower(
        users, items, settings.similarity, settings.temperature, settings.item_chunk, data.mean
    )


def _tower(settings, data: NetworkData, kind: str, count: int, use_id: bool) -> nn.Module:
    """One tower: its side table's encoders (models/build.ENCODERS, as a supervised input's)
    and which codes had training interactions (at load: the saved `id_index` replaces it)."""
    import torch

    from modelyard.models.build import ENCODERS, encoder_config
    from modelyard.recommend.towers import Tower

    known = torch.zeros(count, dtype=torch.bool)
    if data.train is not None:
        known[torch.from_numpy(data.train.items if kind == "items" else data.train.users)] = True
    table = data.sides.get(kind)
    encoders, features = {}, {}
    for feature in table.features if table is not None else []:
        encoder = encoder_config(feature)
        encoders[feature.name] = ENCODERS.get(f"{feature.type}.{encoder.type}")(encoder, feature)
        features[feature.name] = table.tensors[feature.name]
    return Tower(
        known,
        use_id,
        settings.id_dropout,
        features,
        encoders,
        settings.hidden,
        settings.dropout,
        settings.dim,
    )


def build_network(settings, data: NetworkData) -> nn.Module:
    """`settings`: the config's `model` section."""
    return NETWORKS.get(settings.type)(settings, data)
