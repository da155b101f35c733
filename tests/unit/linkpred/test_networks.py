"""Every link-prediction model: 1-N scores agree with candidate scores, a head query scores
the same triple as its tail query, gradients reach the embeddings; the objectives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modelyard.config import validate
from modelyard.config.schema.link_prediction import KgTraining
from modelyard.linkpred import networks
from modelyard.linkpred.build import NetworkSize, build_network
from modelyard.linkpred.metrics import KnownAnswers
from modelyard.linkpred.objectives import (
    answer_distribution,
    distinct_queries,
    head_probabilities,
    negative_sampling_objective,
    queries,
    softmax_objective,
    training_tensors,
)

TYPES = [
    "distmult",
    "complex",
    "transe",
    "rotate",
    "tucker",
    "conve",
    "transe+raw",
    "rotate+l2",
]
BOTH_SIDES = [t for t in TYPES if t != "conve"]  # conve asks for tails only


VARIANTS = {"transe+raw": {"normalize_entities": False}, "rotate+l2": {"p_norm": 2}}


def _network(kind: str, entities: int = 9, relations: int = 4):
    torch.manual_seed(0)
    kind, options = kind.split("+")[0], VARIANTS.get(kind, {})
    model = {"type": kind, "dim": 6, **({"height": 2} if kind == "conve" else {}), **options}
    config = validate({"task": "link_prediction", "data": {"train": "t.tsv"}, "model": model})
    return build_network(config.model, NetworkSize(entities, relations, margin=2.0)).eval()


@pytest.mark.parametrize("kind", TYPES)
def test_all_entity_scores_match_candidate_scores(kind):
    network = _network(kind)
    anchor, relation = torch.tensor([0, 3, 5]), torch.tensor([1, 0, 3])
    side = torch.tensor([0, 1 if kind != "conve" else 0, 0])
    every = network(anchor, relation, side)  # (3, 9)
    assert every.shape == (3, 9)
    candidates = torch.tensor([[2, 4], [0, 8], [5, 1]])
    picked = network(anchor, relation, side, candidates)
    torch.testing.assert_close(picked, every.gather(1, candidates), rtol=1e-5, atol=1e-5)


def test_transe_keeps_entities_on_the_unit_sphere_by_default():
    """The TransE paper's constraint (and PyKEEN's default); without it Nations and UMLS MRR
    fall (bench/kge_vs_pykeen.py --raw-transe)."""
    transe = _network("transe")
    torch.nn.init.uniform_(transe.entity.weight, -3.0, 3.0)  # stored vectors far off the sphere
    assert torch.allclose(transe.entity_vectors().norm(dim=-1), torch.ones(9))
    raw = _network("transe+raw")
    assert not torch.allclose(raw.entity_vectors().norm(dim=-1), torch.ones(9))


def test_normalized_transe_and_l2_rotate_score_by_their_formulas():
    h, r, t = torch.tensor([1, 2]), torch.tensor([0, 3]), torch.tensor([4, 2])
    tails = torch.zeros(2, dtype=torch.long)
    transe = _network("transe")
    unit = torch.nn.functional.normalize(transe.entity.weight, dim=-1)
    expected = -(unit[h] + transe.relation.weight[r] - unit[t]).abs().sum(-1)
    torch.testing.assert_close(transe(h, r, tails, t[:, None])[:, 0], expected)
    assert torch.allclose(transe.entity_vectors().norm(dim=-1), torch.ones(9))

    rotate = _network("rotate+l2")
    as_complex = torch.complex(*rotate.entity.weight.detach().chunk(2, dim=-1))
    turn = torch.polar(torch.ones(4, 6), rotate.relation.weight.detach())
    expected = -(as_complex[h] * turn[r] - as_complex[t]).abs().pow(2).sum(-1).sqrt()
    torch.testing.assert_close(rotate(h, r, tails, t[:, None])[:, 0], expected)


@pytest.mark.parametrize("kind", BOTH_SIDES)
def test_a_head_query_scores_the_same_triple_as_its_tail_query(kind):
    network = _network(kind)
    h, r, t = torch.tensor([1, 2, 7]), torch.tensor([0, 3, 2]), torch.tensor([4, 2, 0])
    tail_query = network(h, r, torch.zeros(3, dtype=torch.long), t[:, None])
    head_query = network(t, r, torch.ones(3, dtype=torch.long), h[:, None])
    torch.testing.assert_close(tail_query, head_query, rtol=1e-5, atol=1e-5)


def test_distmult_is_symmetric_and_complex_is_not():
    h, r, t = torch.tensor([1]), torch.tensor([2]), torch.tensor([[4]])
    zero = torch.zeros(1, dtype=torch.long)
    for kind, same in (("distmult", True), ("complex", False)):
        network = _network(kind)
        forward, backward = network(h, r, zero, t), network(t[:, 0], r, zero, h[:, None])
        assert torch.allclose(forward, backward) is same


@pytest.mark.parametrize("kind", TYPES)
@pytest.mark.parametrize("loss", ["softmax", "negative_sampling"])
def test_objectives_give_gradients_to_the_embeddings(kind, loss):
    network = _network(kind).train()
    settings = KgTraining(loss=loss, negatives=5, regularizer="n3", weight=0.1)
    triples = np.array([[0, 1, 2], [3, 0, 4], [5, 1, 6]])
    batch = training_tensors(triples, settings, relations=2)
    if loss == "softmax":
        objective = softmax_objective(0.1, "n3", 0.1)
    else:
        objective = negative_sampling_objective(settings, 2.0, 0.1, None)
    value = objective(network, batch)
    value.backward()
    assert torch.isfinite(value)
    assert network.entity.weight.grad.abs().sum() > 0
    assert network.relation.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("inverse", [True, False])
def test_distinct_queries_target_every_training_answer_evenly(inverse):
    triples = np.array([[0, 0, 1], [0, 0, 2], [0, 0, 3], [4, 0, 1], [0, 1, 1]])
    settings = KgTraining(queries="distinct", inverse_relations=inverse)
    batch = training_tensors(triples, settings, relations=2)
    asked = queries(triples, 2, inverse)
    keys = set(zip(asked["anchor"], asked["relation"], asked["side"], strict=True))
    assert len(batch["anchor"]) == len(keys) == 7  # (0, r0) once, not three times
    target, counts = answer_distribution(KnownAnswers(asked, 5), batch)
    target = target.numpy()
    row = np.flatnonzero((batch["anchor"] == 0).numpy() & (batch["relation"] == 0).numpy())
    assert np.allclose(target[row[0]], [0, 1 / 3, 1 / 3, 1 / 3, 0])
    assert np.allclose(target.sum(1), 1)
    # the loss is PyKEEN's LCWA cross-entropy: -sum_t y_t log softmax(s)_t, y = labels / n
    network = _network("distmult", entities=5, relations=2 * (2 if inverse else 1))
    objective = softmax_objective(0.0, answers=KnownAnswers(asked, 5))
    scores = network(batch["anchor"], batch["relation"], batch["side"])
    expected = -(torch.from_numpy(target) * torch.log_softmax(scores, 1)).sum(1).mean()
    assert torch.isclose(objective(network, batch), expected)


@pytest.mark.parametrize("inverse", [True, False])
def test_grouped_queries_give_the_per_triple_loss_with_each_query_scored_once(inverse):
    triples = np.array([[0, 0, 1], [0, 0, 2], [0, 0, 3], [4, 0, 1], [0, 1, 1]])
    network = _network("complex", entities=5, relations=2 * (2 if inverse else 1))
    per_triple = training_tensors(triples, KgTraining(inverse_relations=inverse), 2)
    grouped = training_tensors(triples, KgTraining(queries="grouped", inverse_relations=inverse), 2)
    answers = KnownAnswers(queries(triples, 2, inverse), 5)
    for smoothing in (0.0, 0.1):
        expected = softmax_objective(smoothing)(network, per_triple)
        found = softmax_objective(smoothing, answers=answers, per_answer=True)(network, grouped)
        assert len(grouped["anchor"]) == 7 < len(per_triple["anchor"]) == 10
        assert torch.isclose(found, expected)


def test_distinct_queries_keep_one_answer_of_each_query():
    asked = {
        "anchor": np.array([3, 3, 1]),
        "relation": np.array([0, 0, 0]),
        "side": np.array([0, 0, 0]),
        "answer": np.array([7, 5, 2]),
    }
    found = distinct_queries(asked)
    assert found["anchor"].tolist() == [1, 3] and found["answer"].tolist() == [2, 5]


def test_inverse_relations_turn_head_queries_into_tail_queries_of_r_prime():
    asked = queries(np.array([[0, 1, 2]]), relations=3, inverse=True)
    assert asked["anchor"].tolist() == [0, 2]
    assert asked["relation"].tolist() == [1, 4]
    assert asked["side"].tolist() == [0, 0]
    assert asked["answer"].tolist() == [2, 0]
    plain = queries(np.array([[0, 1, 2]]), relations=3, inverse=False)
    assert plain["relation"].tolist() == [1, 1] and plain["side"].tolist() == [0, 1]


def test_negative_sampling_with_inverse_relations_trains_each_triple_both_ways():
    settings = KgTraining(loss="negative_sampling", inverse_relations=True)
    tensors = training_tensors(np.array([[0, 1, 2]]), settings, relations=3)
    assert tensors["head"].tolist() == [0, 2]
    assert tensors["relation"].tolist() == [1, 4]
    assert tensors["tail"].tolist() == [2, 0]


def test_bernoulli_corrupts_the_head_of_one_to_many_relations_less():
    # relation 0: one head with 4 tails (tph 4, hpt 1): replace the head with chance 4/5.
    # relation 1: 4 heads with one tail (tph 1, hpt 4): 1/5. Relation 2 unseen: 1/2.
    triples = np.array([[0, 0, t] for t in range(1, 5)] + [[h, 1, 9] for h in range(4)])
    chance = head_probabilities(triples, relations=3)
    torch.testing.assert_close(chance, torch.tensor([0.8, 0.2, 0.5]))


def test_self_adversarial_weights_make_hard_negatives_count_more():
    """With a high temperature the loss follows the hardest negative; evenly weighted, the
    mean of all: the two differ once negatives differ in score."""
    network = _network("distmult").train()
    triples = np.array([[0, 1, 2], [3, 0, 4]])
    base = {"loss": "negative_sampling", "negatives": 8, "inverse_relations": False}
    values = []
    for temperature in (None, 50.0):
        settings = KgTraining(**base, self_adversarial=temperature)
        batch = training_tensors(triples, settings, relations=2)
        generator = torch.Generator().manual_seed(0)
        objective = negative_sampling_objective(settings, 0.0, 0.0, None, generator)
        with torch.no_grad():
            values.append(float(objective(network, batch)))
    assert values[0] != pytest.approx(values[1])


def test_rotate_scores_all_entities_in_chunks_alike(monkeypatch):
    network = _network("rotate", entities=11)
    anchor, relation, side = (
        torch.tensor([0, 3, 5]),
        torch.tensor([1, 0, 3]),
        torch.tensor([0, 1, 0]),
    )
    whole = network(anchor, relation, side)
    monkeypatch.setattr(networks, "ELEMENT_BUDGET", 3 * 12 * 4)  # chunks of 4 entities
    torch.testing.assert_close(network(anchor, relation, side), whole)


@pytest.mark.parametrize("kind", ["rotate", "rotate+l2"])
def test_rotate_gradients_stay_finite_where_query_and_entity_coincide(kind):
    network = _network(kind).train()
    with torch.no_grad():
        network.relation.weight.zero_()  # r = 1: (e, r, e) has distance exactly 0
    scores = network(torch.tensor([2]), torch.tensor([1]), torch.tensor([0]))
    scores.sum().backward()
    assert torch.isfinite(network.entity.weight.grad).all()
