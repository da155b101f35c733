"""The recommendation networks (mf, neumf, sasrec): the calls every network answers agree
with each other, chunked scoring equals unchunked, SASRec is causal and ignores padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modelyard.recommend.data import Interactions
from modelyard.recommend.networks import MatrixFactorization, full_softmax_objective
from modelyard.recommend.neumf import NeuMF
from modelyard.recommend.sasrec import (
    SASRec,
    full_cross_entropy,
    last_items,
    sequence_objective,
    training_sequences,
)

USERS, ITEMS = 7, 11


def _sasrec(max_length: int = 6, **options) -> SASRec:
    torch.manual_seed(0)
    network = SASRec(USERS, ITEMS, 8, max_length, layers=2, heads=2, dropout=0.0, **options)
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(USERS - 1), 5)  # the last user has no history
    network.remember(users, rng.integers(0, ITEMS, len(users)), rng.permutation(len(users)))
    return network.eval()


def _networks() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {
        "mf": MatrixFactorization(USERS, ITEMS, 4, biases=True, mean=3.0),
        "neumf": NeuMF(USERS, ITEMS, 4, [8, 4], dropout=0.0, mean=3.0),
        "sasrec": _sasrec(),
    }


@pytest.mark.parametrize("name", ["mf", "neumf", "sasrec"])
def test_score_all_equals_forward_on_all_pairs_and_on_pairs(name):
    network = _networks()[name].eval()
    users = torch.tensor([0, 3, 6, 3])
    with torch.no_grad():
        everything = network.score_all(users)
        pairs = network(users, torch.arange(ITEMS), all_pairs=True)
        grid = network(users[:, None].expand(-1, ITEMS), torch.arange(ITEMS).expand(4, -1))
    assert everything.shape == (4, ITEMS) and network.items == ITEMS
    torch.testing.assert_close(pairs, everything)
    torch.testing.assert_close(grid, everything)
    penalty = network.penalty(users, torch.tensor([[1, 2], [3, 4], [5, 6], [7, 8]]))
    assert penalty.shape == () and penalty > 0


def test_neumf_scores_in_chunks_of_items_as_at_once():
    network = _networks()["neumf"].eval()
    users = torch.arange(USERS)
    with torch.no_grad():
        whole = network.score_all(users)
        network.hidden_budget = USERS * 8 * 3  # 3 items per chunk: 4 chunks, the last of 2
        chunks = []
        network.first_item.register_forward_hook(lambda m, i, o: chunks.append(o.shape[0]))
        chunked = network.score_all(users)
    assert chunks == [3, 3, 3, 2]
    torch.testing.assert_close(chunked, whole)


def test_last_items_keeps_each_users_latest_in_time_order_left_padded():
    users = np.array([1, 0, 1, 1, 1, 0])
    items = np.array([10, 20, 11, 12, 13, 21])
    times = np.array([5, 1, 2, 9, 2, 0])  # user 1: 11 and 13 tie at 2 (row order), 10, 12
    found = last_items(users, items, times, n_users=3, length=3, pad=99)
    assert found.tolist() == [[99, 21, 20], [13, 10, 12], [99, 99, 99]]


def test_training_sequences_cut_long_histories_into_windows_overlapping_by_one():
    users = np.array([0] * 7 + [1, 1, 2])
    times = np.array([6, 5, 4, 3, 2, 1, 0, 0, 1, 0])  # user 0: items 6, 5, ..., 0 in time order
    ids = np.array([f"i{i}" for i in range(12)])
    train = Interactions(users, np.arange(10), None, times, np.array(["a", "b", "c"]), ids)
    found = training_sequences(train, max_length=3)["sequence"]
    # user 0: targets 5 .. 0 once each; user 1: one pair; user 2 (one item): nothing to learn
    assert found.tolist() == [[3, 2, 1, 0], [6, 5, 4, 3], [12, 12, 7, 8]]


def test_sasrec_is_causal():
    network = _sasrec()
    sequences = torch.tensor([[ITEMS, 1, 2, 3, 4, 5]])
    changed = sequences.clone()
    changed[0, 4] = 9
    with torch.no_grad():
        before, after = network.encode(sequences), network.encode(changed)
    torch.testing.assert_close(after[:, :4], before[:, :4])
    assert not torch.allclose(after[:, 4:], before[:, 4:])


def test_sasrec_padding_and_batch_neighbours_do_not_change_scores():
    network = _sasrec(max_length=10)
    history = torch.tensor([3, 1, 4])
    pad = ITEMS
    short = torch.tensor([[pad, *history]])
    long = torch.tensor([[pad] * 7 + history.tolist(), [5, 9, 2, 6, 5, 3, 5, 8, 9, 7]])
    with torch.no_grad():
        alone = network.encode(short)[:, -1]
        padded = network.encode(long)[:1, -1]
        network.item.weight[pad] = 7.0  # whatever the padding's vector, it is never read
        changed = network.encode(long)[:1, -1]
    torch.testing.assert_close(padded, alone)
    torch.testing.assert_close(changed, alone)


def test_sasrec_scores_from_the_remembered_history():
    network = _sasrec()
    users = np.array([0, 0, 0, 1])
    with torch.no_grad():
        network.remember(users, np.array([2, 3, 4, 5]), np.array([3, 1, 2, 0]))
        assert network.history[0].tolist() == [ITEMS] * 3 + [3, 4, 2]
        assert network.history[2].tolist() == [ITEMS] * 6
        expected = network.encode(torch.tensor([[3, 4, 2]]))[:, -1] @ network.item.weight[:ITEMS].T
        torch.testing.assert_close(network.score_all(torch.tensor([0])), expected)


@pytest.mark.parametrize(("loss", "negatives"), [("bpr", 2), ("softmax", 5), ("full_softmax", 1)])
def test_sequence_objective_trains_on_real_positions_only(loss, negatives):
    network = _sasrec().train()
    pad = ITEMS
    batch = {"sequence": torch.tensor([[pad, pad, 1, 2, 3, 4, 5], [pad] * 5 + [6, 7]])}
    value = sequence_objective(loss, 0.01, negatives)(network, batch)
    value.backward()
    assert torch.isfinite(value)
    grad = network.item.weight.grad.abs().sum(1)
    assert grad[pad] == 0 and (grad[[2, 3, 4, 5, 7]] > 0).all()  # every next item is scored


def _hand_cross_entropy(scores: list[list[float]], targets: list[int]) -> float:
    """The mean over rows of log(sum_j exp(s_j)) - s_target, written out with math."""
    import math

    rows = [
        math.log(sum(math.exp(s) for s in row)) - row[t]
        for row, t in zip(scores, targets, strict=True)
    ]
    return sum(rows) / len(rows)


def test_full_cross_entropy_matches_a_hand_computation():
    states = torch.tensor([[1.0, 0.0], [0.5, -1.0]])
    items = torch.tensor([[2.0, 1.0], [0.0, 1.0], [-1.0, 3.0]])
    # scores: row 0 = [2, 0, -1]; row 1 = [0, -1, -3.5]
    expected = _hand_cross_entropy([[2.0, 0.0, -1.0], [0.0, -1.0, -3.5]], [1, 0])
    found = full_cross_entropy(states, items, torch.tensor([1, 0]))
    assert found.item() == pytest.approx(expected, rel=1e-6)


def test_full_cross_entropy_in_chunks_gives_the_same_loss_and_gradients(monkeypatch):
    """A large catalogue is scored a slice of rows at a time (recomputed in backward):
    the loss and the gradients are those of the one-matrix computation."""
    from modelyard.recommend import sasrec

    torch.manual_seed(0)
    states = torch.randn(11, 4, requires_grad=True)
    items = torch.randn(7, 4, requires_grad=True)
    targets = torch.randint(0, 7, (11,))
    whole = full_cross_entropy(states, items, targets)
    whole.backward()
    expected = (states.grad.clone(), items.grad.clone())
    states.grad = items.grad = None
    monkeypatch.setattr(sasrec, "LOGITS_PER_CHUNK", 7 * 3)  # slices of 3 rows: 4 of them
    calls = []
    original = sasrec.F.cross_entropy
    monkeypatch.setattr(
        sasrec.F, "cross_entropy", lambda *a, **k: calls.append(len(a[1])) or original(*a, **k)
    )
    sliced = full_cross_entropy(states, items, targets)
    sliced.backward()
    assert calls[:4] == [3, 3, 3, 2]  # forward over slices (backward recomputes them)
    assert sliced.item() == pytest.approx(whole.item(), rel=1e-6)
    assert torch.allclose(states.grad, expected[0], atol=1e-6)
    assert torch.allclose(items.grad, expected[1], atol=1e-6)


def test_sasrec_full_softmax_scores_each_next_item_against_every_item():
    network = _sasrec()
    pad = ITEMS
    batch = {"sequence": torch.tensor([[pad, pad, 1, 2, 3], [pad, pad, pad, 6, 7]])}
    found = sequence_objective("full_softmax", 0.0, 1)(network, batch)
    with torch.no_grad():
        # the all-padding columns are cut: inputs [1, 2], [pad, 6]; next items [2, 3], [6, 7]
        states = network.encode(torch.tensor([[1, 2], [pad, 6]]))
        every = network.item.weight[:ITEMS]
        rows = [states[0, 0], states[0, 1], states[1, 1]]  # real input and next item only
        scores = [(every @ row).tolist() for row in rows]
    expected = _hand_cross_entropy(scores, [2, 3, 7])
    assert found.item() == pytest.approx(expected, rel=1e-5)


def test_mf_full_softmax_scores_each_item_against_the_whole_catalogue():
    torch.manual_seed(0)
    network = MatrixFactorization(USERS, ITEMS, 4, biases=False)
    batch = {"user": torch.tensor([0, 3, 3]), "item": torch.tensor([5, 1, 10])}
    found = full_softmax_objective(0.0)(network, batch)
    with torch.no_grad():
        scores = network.score_all(batch["user"]).tolist()
    assert found.item() == pytest.approx(_hand_cross_entropy(scores, [5, 1, 10]), rel=1e-5)
    with_l2 = full_softmax_objective(0.5)(network, batch)
    penalty = network.penalty(batch["user"], batch["item"])
    assert with_l2.item() == pytest.approx(found.item() + 0.5 * penalty.item(), rel=1e-5)
