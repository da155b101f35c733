"""The only place a link-prediction config's `model` section becomes an nn.Module: one
registry of networks, one per `model.type` (linkpred/networks.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from modelyard.registry import Registry

# The initial spread of the distance models' vectors: distances start near margin + this.
DISTANCE_SLACK = 2.0


@dataclass
class NetworkSize:
    """What a network is built from: the entity and relation counts (relations doubled with
    training.inverse_relations) and the loss's margin (which sets the distance models'
    initial scale)."""

    entities: int
    relations: int
    margin: float = 0.0


NETWORKS: Registry[Callable[..., nn.Module]] = Registry("link prediction model type")


@NETWORKS.register("distmult")
def _distmult(settings, size: NetworkSize) -> nn.Module:
    from modelyard.linkpred.networks import DistMult

    return DistMult(size.entities, size.relations, settings.dim)


@NETWORKS.register("complex")
def _complex(settings, size: NetworkSize) -> nn.Module:
    from modelyard.linkpred.networks import ComplEx

    return ComplEx(size.entities, size.relations, settings.dim)


@NETWORKS.register("transe")
def _transe(settings, size: NetworkSize) -> nn.Module:
    from modelyard.linkpred.networks import TransE

    scale = size.margin + DISTANCE_SLACK
    return TransE(
        size.entities,
        size.relations,
        settings.dim,
        settings.p_norm,
        scale,
        settings.normalize_entities,
    )


@NETWORKS.register("rotate")
def _rotate(settings, size: NetworkSize) -> nn.Module:
    from modelyard.linkpred.networks import RotatE

    scale = size.margin + DISTANCE_SLACK
    return RotatE(size.entities, size.relations, settings.dim, scale, settings.p_norm)


@NETWORKS.register("tucker")
def _tucker(settings, size: NetworkSize) -> nn.Module:
    from modelyard.linkpred.networks import TuckER

    return TuckER(
        size.entities, size.relations, settings.dim, settings.relation_dim, settings.dropout
    )


@NETWORKS.register("conve")
def _conve(settings, size: NetworkSize) -> nn.Module:
    from modelyard.linkpred.networks import ConvE

    return ConvE(
        size.entities,
        size.relations,
        settings.dim,
        settings.height,
        settings.channels,
        settings.dropout,
    )


DISTANCE_MODELS = frozenset({"transe", "rotate"})


def margin_of(config) -> float:
    """training.margin for the distance models (their scores are negative distances), else 0."""
    return config.training.margin if config.model.type in DISTANCE_MODELS else 0.0


def build_network(settings, size: NetworkSize) -> nn.Module:
    """`settings`: the config's `model` section."""
    return NETWORKS.get(settings.type)(settings, size)
