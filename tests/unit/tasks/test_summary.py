"""Summarisation pieces: sentence splitting, oracle labels, the budget, TextRank, ROUGE parity
with rouge-score, and the extractive model's scorer, memo and loss."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from modelyard.errors import UserError
from modelyard.metrics.summarisation import Grams, rouge, tokens
from modelyard.tasks.summary.model import (
    MASKED,
    ExtractiveSummariser,
    SentenceScorer,
    centrality,
    sentence_loss,
)
from modelyard.tasks.summary.select import (
    Budget,
    lead,
    oracle,
    pagerank,
    select,
    soft_oracle,
    summary_text,
    textrank_scores,
)
from modelyard.tasks.summary.sentences import documents, sentences_of, split_sentences


def test_split_sentences_keeps_abbreviations_initials_and_quotes_together():
    text = (
        'Dr. Smith met J. R. Jones at 5 p.m. in the U.S. office. "It went well," he said! '
        "Was it? 3 people agreed (e.g. Ann).\nA new line starts here"
    )
    assert split_sentences(text) == [
        "Dr. Smith met J. R. Jones at 5 p.m. in the U.S. office.",
        '"It went well," he said!',
        "Was it?",
        "3 people agreed (e.g. Ann).",
        "A new line starts here",
    ]


def test_split_sentences_does_not_cut_before_lowercase_or_inside_numbers():
    assert split_sentences("It cost 3.5 m. dollars in total. then more") == [
        "It cost 3.5 m. dollars in total. then more"
    ]
    assert split_sentences("  \n ") == []


def test_a_json_list_is_a_document_already_split():
    assert sentences_of('["One .", " ", "Two ."]') == ["One .", "Two ."]
    assert sentences_of(["A b.", "C d."]) == ["A b.", "C d."]
    assert sentences_of("[not json. Really.") == ["[not json.", "Really."]


def test_a_document_without_sentences_is_a_user_error_naming_the_row():
    series = pd.Series(["One. Two.", "  ", None], name="doc")
    with pytest.raises(UserError, match=r"input 'd' row 2: .*column 'doc' has no sentences \(2 "):
        documents(series, 10, "d")
    assert documents(series[:1], 1, "d") == [["One."]]  # cut at the limit


def test_oracle_picks_the_sentences_that_raise_rouge_and_stops_when_none_does():
    doc = ["The weather was mild.", "Cats chase mice at night.", "Mice run from cats fast."]
    assert oracle(doc, "Cats chase mice at night.", Budget(3)) == [1]
    assert oracle(doc, "Cats chase mice. Mice run fast.", Budget(3)) == [1, 2]
    assert oracle(doc, "Cats chase mice. Mice run fast.", Budget(1)) == [1]
    assert oracle(doc, "Cats chase mice. Mice run fast.", Budget(None, 6)) == [1]
    assert oracle(doc, "Unrelated words entirely.", Budget(3)) == []


def test_soft_oracle_scales_each_sentences_own_rouge_to_the_best():
    doc = ["The weather was mild.", "Cats chase mice at night.", "Mice run from cats fast."]
    labels = soft_oracle(doc, "Cats chase mice at night.")
    target = Grams(tokens("Cats chase mice at night."))
    own = [Grams(tokens(s)).f(target) for s in doc]
    assert labels.tolist() == pytest.approx([f / max(own) for f in own])
    assert labels[1] == 1 and 0 < labels[2] < 1 and labels[0] == 0
    assert soft_oracle(doc, "Unrelated words entirely.").tolist() == [0, 0, 0]


def test_select_keeps_the_budget_and_document_order():
    doc = ["a b c", "d e", "f g h i j", "k"]
    scores = np.array([0.1, 0.9, 0.8, 0.5])
    assert select(scores, doc, Budget(2)) == [1, 2]
    assert select(scores, doc, Budget(None, 4)) == [1, 3]  # 'f g h i j' skipped for 'k'
    assert select(scores, doc, Budget(3, 3)) == [1, 3]
    assert select(scores, doc, Budget(None, 1)) == [3]
    assert select(np.array([0.0, 0.0, 1.0, 0.0]), doc, Budget(None, 0 + 1)) == [3]
    assert summary_text(["one two three"], [0], Budget(None, 2)) == "one two"
    assert lead(doc, Budget(3)) == [0, 1, 2]
    assert lead(doc, Budget(None, 6)) == [0, 1, 3]


def test_select_takes_the_best_sentence_when_none_fits_the_words():
    assert select(np.array([0.2, 0.7]), ["a b c", "d e f"], Budget(None, 2)) == [1]


def test_pagerank_matches_networkx_on_a_weighted_graph_with_an_isolated_node():
    nx = pytest.importorskip("networkx")
    rng = np.random.default_rng(0)
    weights = rng.random((6, 6)) * (rng.random((6, 6)) > 0.4)
    weights = np.triu(weights, 1) + np.triu(weights, 1).T
    weights[5, :] = weights[:, 5] = 0  # no edges
    graph = nx.from_numpy_array(weights)
    expected = nx.pagerank(graph, alpha=0.85, weight="weight")
    assert np.allclose(pagerank(weights), [expected[i] for i in range(6)], atol=1e-5)


def test_textrank_ranks_the_sentence_sharing_most_words_first():
    doc = [
        "Solar panels cut energy bills.",
        "Solar power and energy storage cut household bills.",
        "Household energy storage is growing.",
        "The cat sleeps.",
    ]
    scores = textrank_scores(doc)
    assert scores.argmax() == 1 and scores.argmin() == 3
    assert scores.sum() == pytest.approx(1.0)


def _texts(rng, count: int) -> list[str]:
    words = ["run", "running", "runs", "cat", "cats", "the", "a", "blue", "sky", "Mouse", "42"]
    return [" ".join(rng.choice(words, rng.integers(1, 12))) for _ in range(count)]


def test_rouge_is_the_mean_f_measure_of_rouge_score_times_100():
    from rouge_score import rouge_scorer

    rng = np.random.default_rng(1)
    references, summaries = _texts(rng, 30), _texts(rng, 30)
    summaries[0] = ""
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    found = rouge(references, summaries)
    for name in ("rouge1", "rouge2", "rougeL"):
        expected = np.mean(
            [scorer.score(r, s)[name].fmeasure for r, s in zip(references, summaries, strict=True)]
        )
        assert found[name] == pytest.approx(100 * expected)
    with pytest.raises(ValueError):
        rouge(["a"], [])


def test_the_oracles_fast_rouge_matches_rouge_score_on_single_texts():
    from rouge_score import rouge_scorer

    rng = np.random.default_rng(2)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2"], use_stemmer=True)
    for reference, summary in zip(_texts(rng, 20), _texts(rng, 20), strict=True):
        scores = scorer.score(reference, summary)
        expected = (scores["rouge1"].fmeasure + scores["rouge2"].fmeasure) / 2
        assert Grams(tokens(summary)).f(Grams(tokens(reference))) == pytest.approx(expected)


class CountingEncoder(torch.nn.Module):
    """(M, L) ids -> (M, 4) vectors; counts the sentences it encodes."""

    output_size = 4

    def __init__(self, trainable: bool):
        super().__init__()
        self.embed = torch.nn.Embedding(20, 4)
        self.embed.requires_grad_(trainable)
        self.seen = 0

    def forward(self, ids):
        self.seen += len(ids)
        return self.embed(ids).mean(dim=1)


def _model(trainable: bool) -> ExtractiveSummariser:
    scorer = SentenceScorer(4, 8, layers=1, heads=2, dropout=0.0, positions=3)
    return ExtractiveSummariser("doc", CountingEncoder(trainable), "summary", scorer)


def test_the_model_scores_real_sentences_and_masks_the_rest():
    ids = torch.tensor([[[1, 2, 0], [3, 0, 0], [0, 0, 0], [0, 0, 0]], [[4, 5, 6]] * 4])
    scores = _model(trainable=True)({"doc": ids})["summary"]  # (B, S)
    assert scores.shape == (2, 4)
    assert (scores[0, 2:] == MASKED).all() and (scores[1] > MASKED).all()


def test_centrality_is_each_documents_pagerank_on_cosine_weights():
    torch.manual_seed(0)
    vectors = torch.randn(2, 5, 6)
    present = torch.tensor([[True] * 5, [True, True, True, False, False]])
    found = centrality(vectors, present)
    for row, n in enumerate((5, 3)):
        unit = torch.nn.functional.normalize(vectors[row, :n], dim=-1)
        weights = (unit @ unit.T).clamp(min=0).numpy()
        np.fill_diagonal(weights, 0)
        expected = np.log(pagerank(weights) * n)
        assert found[row, :n].numpy() == pytest.approx(expected, abs=1e-4)
    assert (found[1, 3:] == 0).all()


def test_the_scorer_with_centrality_and_length_ignores_padding():
    torch.manual_seed(0)
    scorer = SentenceScorer(4, 8, 0, 2, 0.0, 5, centrality=True, length=True).eval()
    vectors, tokens_ = torch.randn(1, 3, 4), torch.tensor([[3.0, 5.0, 2.0]])
    alone = scorer(vectors, torch.ones(1, 3, dtype=torch.bool), tokens_)
    padded = scorer(
        torch.cat([vectors, torch.randn(1, 2, 4)], 1),
        torch.tensor([[True, True, True, False, False]]),
        torch.cat([tokens_, torch.tensor([[9.0, 9.0]])], 1),
    )
    assert torch.allclose(alone, padded[:, :3], atol=1e-5)
    longer = scorer(vectors, torch.ones(1, 3, dtype=torch.bool), tokens_ * 4)
    assert not torch.allclose(alone, longer)  # the length reaches the score


def test_a_frozen_encoder_encodes_each_distinct_sentence_once():
    model = _model(trainable=False)
    ids = torch.tensor([[[1, 2, 0], [3, 0, 0]], [[1, 2, 0], [7, 8, 9]]])
    first = model({"doc": ids})["summary"]
    again = model({"doc": torch.nn.functional.pad(ids, (0, 2))})["summary"]  # wider padding
    assert model.encoders[0].seen == 3  # [1, 2] twice, [3], [7, 8, 9]
    assert torch.allclose(first, again)
    trained = _model(trainable=True)
    trained({"doc": ids})
    trained({"doc": ids})
    assert trained.encoders[0].seen == 8


def test_sentence_loss_ignores_positions_past_the_document():
    scores = torch.tensor([[2.0, -1.0, 50.0]])
    target = torch.tensor([[1.0, 0.0, -1.0]])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(scores[:, :2], target[:, :2])
    assert sentence_loss(scores, target) == pytest.approx(float(expected))
    assert sentence_loss(scores, torch.full((1, 3), -1.0)) == 0
