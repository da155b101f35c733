"""Filtered ranking with the realistic tie rule, against a case worked out by hand and a
brute-force reference; chunking changes nothing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modelyard.linkpred.metrics import KnownAnswers, filtered_ranks, per_relation, summarize
from modelyard.linkpred.objectives import queries
from modelyard.metrics import metric_mode

# 5 entities, 1 relation. Scores of any query: a fixed table per (anchor, side).
SCORES = {
    (0, 0): [0.0, 9.0, 5.0, 5.0, 7.0],  # (0, r, ?)
    (1, 1): [4.0, 0.0, 4.0, 4.0, 1.0],  # (?, r, 1)
}


def _score_all(anchor, relation, side):
    return torch.tensor([SCORES[(int(a), int(s))] for a, s in zip(anchor, side, strict=True)])


def test_a_hand_computed_case_with_ties_and_filtering():
    # Test triple (0, r, 2). Known: (0, r, 1) [train] and (0, r, 2) [test] and (3, r, 1).
    known_triples = np.array([[0, 0, 1], [0, 0, 2], [3, 0, 1]])
    test = np.array([[0, 0, 1]])  # asked as (0, r, ?) -> 1 and (?, r, 1) -> 0
    known = KnownAnswers(queries(known_triples, 1, inverse=False), 5)
    ranks = filtered_ranks(
        _score_all, queries(test, 1, inverse=False), known, 8, torch.device("cpu")
    )
    # (0, r, ?) answer 1 scores 9: the best -> rank 1 (entity 2, known, is filtered anyway).
    # (?, r, 1) answer 0 scores 4: entities 2 and 3 tie at 4, but 3 is filtered ((3, r, 1)
    # is known), so one tie remains: optimistic 1, pessimistic 2, realistic 1.5.
    assert ranks.tolist() == [1.0, 1.5]
    found = summarize(ranks)
    assert found["mrr"] == pytest.approx((1 + 1 / 1.5) / 2)
    assert found["hits_at_1"] == 0.5  # 1.5 is not <= 1
    assert found["hits_at_3"] == found["hits_at_10"] == 1.0
    assert found["mean_rank"] == 1.25


def test_filtering_only_removes_other_known_answers_of_the_same_query():
    # Test triple (0, r, 3): entity 1 (score 9) and 4 (7) beat 3 (5), 2 ties with 3.
    test = np.array([[0, 0, 3]])
    asked = queries(test, 1, inverse=False)
    asked = {k: v[:1] for k, v in asked.items()}  # the tail query only
    unfiltered = KnownAnswers(queries(test, 1, inverse=False), 5)
    assert filtered_ranks(_score_all, asked, unfiltered, 8, torch.device("cpu")).tolist() == [3.5]
    # (0, r, 1) known: 1 leaves the ranking; (2, r, 3) known is another query's answer.
    known = KnownAnswers(queries(np.array([[0, 0, 3], [0, 0, 1], [2, 0, 3]]), 1, False), 5)
    assert filtered_ranks(_score_all, asked, known, 8, torch.device("cpu")).tolist() == [2.5]


def _brute_force(scores, asked, known_set):
    ranks = []
    for i in range(len(asked["answer"])):
        a, r, s, t = (int(asked[k][i]) for k in ("anchor", "relation", "side", "answer"))
        row = scores[i]
        rivals = [e for e in range(len(row)) if e != t and (a, r, s, e) not in known_set]
        greater = sum(row[e] > row[t] for e in rivals)
        equal = sum(row[e] == row[t] for e in rivals)
        ranks.append(greater + 1 + equal / 2)
    return np.array(ranks)


@pytest.mark.parametrize("inverse", [False, True])
def test_ranks_match_brute_force_in_any_chunk_size(inverse):
    rng = np.random.default_rng(0)
    entities, relations = 12, 3
    triples = np.unique(
        np.stack(
            [
                rng.integers(0, entities, 80),
                rng.integers(0, relations, 80),
                rng.integers(0, entities, 80),
            ],
            1,
        ),
        axis=0,
    )
    asked = queries(triples[:20], relations, inverse)
    all_known = queries(triples, relations, inverse)
    known = KnownAnswers(all_known, entities)
    known_set = set(
        zip(*(all_known[k].tolist() for k in ("anchor", "relation", "side", "answer")), strict=True)
    )
    keys = list(zip(asked["anchor"], asked["relation"], asked["side"], strict=True))
    index = {key: i for i, key in enumerate(dict.fromkeys(keys))}  # one score row per query
    table = rng.integers(0, 4, (len(index), entities)).astype(np.float32)  # many ties
    scores = table[[index[key] for key in keys]]

    def score_all(anchor, relation, side):
        rows = [
            index[(int(a), int(r), int(s))] for a, r, s in zip(anchor, relation, side, strict=True)
        ]
        return torch.from_numpy(table[rows])

    expected = _brute_force(scores, asked, known_set)
    for chunk in (1, 7, 1000):
        ranks = filtered_ranks(score_all, asked, known, chunk, torch.device("cpu"))
        np.testing.assert_allclose(ranks, expected)


def test_per_relation_breaks_the_ranks_down_by_relation_name():
    table = per_relation(np.array([1.0, 2.0, 4.0]), np.array([0, 1, 1]), np.array(["a", "b"]))
    assert table["relation"].tolist() == ["a", "b"]
    assert table["queries"].tolist() == [1, 2]
    assert table["mrr"].tolist() == pytest.approx([1.0, 0.375])


def test_link_prediction_metrics_have_directions():
    assert metric_mode("hits_at_10") == "max" and metric_mode("mrr") == "max"
    assert metric_mode("mean_rank") == "min"
