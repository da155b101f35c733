"""Training objectives of the link-prediction models: 1-N softmax (cross-entropy against
every entity) and negative sampling (logistic loss, uniform or Bernoulli corruption,
self-adversarial weights), with n3 / l2 regularisation; all batched on the device."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

Tensors = dict[str, torch.Tensor]


def queries(triples: np.ndarray, relations: int, inverse: bool) -> dict[str, np.ndarray]:
    """(N, 3) triples -> 2N queries {anchor, relation, side, answer} (2N,): (h, r, ?) -> t,
    then (?, r, t) -> h as side 1, or with `inverse` as (t, r + relations, ?) -> h, side 0."""
    h, r, t = triples[:, 0], triples[:, 1], triples[:, 2]
    n = len(triples)
    back_relation = r + relations if inverse else r
    side = np.concatenate([np.zeros(n), np.full(n, 0 if inverse else 1)]).astype(np.int64)
    return {
        "anchor": np.concatenate([h, t]),
        "relation": np.concatenate([r, back_relation]),
        "side": side,
        "answer": np.concatenate([t, h]),
    }


def distinct_queries(asked: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`asked` (objectives.queries) with each (anchor, relation, side) once, in a fixed order;
    `answer` keeps one of its answers (the smallest id: the regularizer's third factor)."""
    table = np.stack([asked["anchor"], asked["relation"], asked["side"], asked["answer"]], 1)
    table = np.unique(table, axis=0)  # sorted by anchor, relation, side, answer
    first = np.ones(len(table), dtype=bool)
    first[1:] = np.any(table[1:, :3] != table[:-1, :3], axis=1)
    table = table[first]
    return {
        "anchor": table[:, 0],
        "relation": table[:, 1],
        "side": table[:, 2],
        "answer": table[:, 3],
    }


def training_tensors(triples: np.ndarray, settings, relations: int) -> Tensors:
    """What the loop batches: queries for `loss: softmax` (each distinct query once with
    `queries: distinct` or `grouped`); for negative sampling the triples {head, relation, tail} (with
    inverse relations, also each (t, r', h))."""
    if settings.loss == "softmax":
        found = queries(triples, relations, settings.inverse_relations)
        if settings.queries != "triples":
            found = distinct_queries(found)
    elif settings.inverse_relations:
        back = triples[:, [2, 1, 0]] + np.array([0, relations, 0])
        both = np.concatenate([triples, back])
        found = {"head": both[:, 0], "relation": both[:, 1], "tail": both[:, 2]}
    else:
        found = {"head": triples[:, 0], "relation": triples[:, 1], "tail": triples[:, 2]}
    return {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.int64)) for k, v in found.items()}


def head_probabilities(triples: np.ndarray, relations: int) -> torch.Tensor:
    """Bernoulli corruption (Wang et al. 2014): per relation, the chance to replace the head,
    tph / (tph + hpt), with tph the mean number of tails per head and hpt of heads per tail."""
    import pandas as pd

    frame = pd.DataFrame(triples, columns=["h", "r", "t"])
    tph = frame.groupby(["r", "h"]).size().groupby("r").mean()
    hpt = frame.groupby(["r", "t"]).size().groupby("r").mean()
    chance = (tph / (tph + hpt)).reindex(range(relations), fill_value=0.5)
    return torch.tensor(chance.to_numpy(), dtype=torch.float32)


def softmax_objective(
    label_smoothing: float,
    regularizer: str = "none",
    weight: float = 0.0,
    answers=None,
    per_answer: bool = False,
):
    """(model, batch {anchor, relation, side, answer: (B,)}) -> cross-entropy among all E
    entities (scores (B, E)), with `label_smoothing`, plus the regularizer. The target is the
    batch's `answer`, or with `answers` (metrics.KnownAnswers of the training queries) every
    known answer of the query, evenly weighted: the mean over queries (PyKEEN's LCWA with
    cross-entropy), or with `per_answer` over answers, each query's loss weighted by its n
    answers, which is the per-triple loss summed over the query's triples, scored once."""

    def objective(model: nn.Module, batch: Tensors) -> torch.Tensor:
        scores = model(batch["anchor"], batch["relation"], batch["side"]).float()  # (B, E)
        if answers is None:
            loss = F.cross_entropy(scores, batch["answer"], label_smoothing=label_smoothing)
        else:
            target, counts = answer_distribution(answers, batch)
            each = F.cross_entropy(
                scores, target, label_smoothing=label_smoothing, reduction="none"
            )  # (B,)
            loss = (each * counts).sum() / counts.sum() if per_answer else each.mean()
        if weight and regularizer != "none":
            factors = _inner(model).factors(batch["anchor"], batch["relation"], batch["answer"])
            loss = loss + weight * penalty(factors, regularizer)
        return loss

    return objective


def answer_distribution(answers, batch: Tensors) -> tuple[torch.Tensor, torch.Tensor]:
    """((B, E) float: 1/n at each of the n known answers of each query of `batch`, (B,) n)."""
    asked = [batch[k].cpu().numpy() for k in ("anchor", "relation", "side")]
    rows, found = answers.of(*asked)
    device = batch["anchor"].device
    target = torch.zeros(len(asked[0]), answers.entities, device=device)
    rows_t = torch.from_numpy(rows).to(device)
    target[rows_t, torch.from_numpy(found).to(device)] = 1.0
    counts = target.sum(1)
    return target / counts[:, None].clamp_min(1.0), counts


def negative_sampling_objective(
    settings,
    margin: float,
    weight: float,
    head_chance: torch.Tensor | None,
    generator: torch.Generator | None = None,
):
    """(model, batch {head, relation, tail: (B,)}) -> logistic loss of each triple against
    `settings.negatives` corruptions of it: -log sigmoid(margin + s+) and, per negative,
    -w log sigmoid(-margin - s-) with w = 1/K or the self-adversarial softmax(T s-) (no
    gradient through w); the two halves averaged; plus `weight` x the regularizer. The side replaced: always the tail with
    inverse relations; else with even odds (`uniform`) or per relation `head_chance` (R,)
    (bernoulli). Negatives are drawn uniformly on the device (from `generator` or torch's
    default one, seeded per epoch by the loop); a drawn one may be a true triple."""
    negatives, temperature = settings.negatives, settings.self_adversarial

    def objective(model: nn.Module, batch: Tensors) -> torch.Tensor:
        head, relation, tail = batch["head"], batch["relation"], batch["tail"]
        side = _sides(relation, settings, head_chance, generator)
        anchor, answer = torch.where(side, tail, head), torch.where(side, head, tail)
        inner = _inner(model)
        drawn = torch.randint(
            inner.entities, (len(head), negatives), device=head.device, generator=generator
        )
        candidates = torch.cat([answer[:, None], drawn], 1)  # (B, 1 + K)
        scores = model(anchor, relation, side.long(), candidates).float()
        positive, negative = scores[:, 0], scores[:, 1:]
        if temperature is not None:
            weights = torch.softmax(negative * temperature, 1).detach()
        else:
            weights = torch.full_like(negative, 1.0 / negatives)
        loss = -F.logsigmoid(margin + positive).mean()
        loss = loss - (weights * F.logsigmoid(-margin - negative)).sum(1).mean()
        loss = loss / 2
        if weight and settings.regularizer != "none":
            factors = inner.factors(head, relation, tail)
            loss = loss + weight * penalty(factors, settings.regularizer)
        return loss

    return objective


def _sides(relation, settings, head_chance, generator) -> torch.Tensor:
    """(B,) bool: True where the head is replaced."""
    if settings.inverse_relations:
        return torch.zeros_like(relation, dtype=torch.bool)
    draw = torch.rand(relation.shape, device=relation.device, generator=generator)
    if settings.corruption == "bernoulli":
        return draw < head_chance.to(relation.device)[relation]
    return draw < 0.5


def penalty(factors: list[torch.Tensor], kind: str) -> torch.Tensor:
    """n3: sum |x|^3, l2: sum x^2 over the (B, d) factors, divided by B."""
    power = 3 if kind == "n3" else 2
    return sum(f.abs().pow(power).sum() for f in factors) / len(factors[0])


def _inner(model: nn.Module):
    """The network itself, also when the loop hands its DDP wrapper."""
    return getattr(model, "module", model)
