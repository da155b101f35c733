"""Predictions for (user, item) pairs, similar items and the popularity fallback, on a
matrix factorisation whose vectors are set by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from modelyard.errors import UserError
from tests.unit.recommend.handmade import handmade_recommender as _model


def test_predicted_ratings_are_clipped_to_the_scale_and_keep_row_order():
    pairs = pd.DataFrame({"user": ["a", "b", "a"], "item": ["y", "z", "w"], "extra": [1, 2, 3]})
    found = _model().predict(pairs)
    assert found.columns.tolist() == ["user", "item", "rating_prediction"]
    # a.y = 4, b.z = 1, a.w = -2 -> clipped to 1
    assert found["rating_prediction"].tolist() == pytest.approx([4.0, 1.0, 1.0])
    wide = _model().predict(pairs, include_inputs=True)
    assert wide.columns.tolist() == ["user", "item", "extra", "rating_prediction"]


def test_a_ranking_model_predicts_unclipped_scores():
    found = _model("ranking").predict(pd.DataFrame({"user": ["a"], "item": ["w"]}))
    assert found.columns.tolist() == ["user", "item", "score"]
    assert found["score"].tolist() == pytest.approx([-2.0])


def test_unknown_pairs_stop_with_how_many_or_are_skipped_with_a_note(capsys):
    pairs = pd.DataFrame({"user": ["a", "ghost", "b", "a"], "item": ["y", "x", "nope", "z"]})
    with pytest.raises(UserError) as error:
        _model().predict(pairs)
    message = str(error.value)
    assert "2 of 4 rows have a user or item this model does not know" in message
    assert "row 2: user 'ghost'; row 3: item 'nope'" in message and "--unknown skip" in message
    found = _model().predict(pairs, unknown="skip")
    assert found["user"].tolist() == ["a", "a"] and found["item"].tolist() == ["y", "z"]
    assert "2 of 4 rows" in capsys.readouterr().err


def test_a_pairs_table_without_ids_names_the_row():
    with pytest.raises(UserError, match=r"row 2: column 'item' has no id"):
        _model().predict(pd.DataFrame({"user": ["a", "b"], "item": ["x", None]}))


def test_similar_items_rank_by_cosine_and_leave_the_item_out():
    found = _model().similar_items(["x", "z"], k=3)
    assert found.columns.tolist() == ["item", "rank", "similar_item", "similarity"]
    x = found[found["item"] == "x"]
    assert x["similar_item"].tolist() == ["y", "z", "w"]  # cos 0.9988, 0, -1
    assert x["similarity"].tolist() == pytest.approx([2 / np.hypot(2, 0.1), 0.0, -1.0], abs=1e-6)
    assert found[found["item"] == "z"]["similar_item"].tolist()[0] == "y"
    with pytest.raises(UserError, match=r"1 of 2 items are unknown to this model \('nope'\)"):
        _model().similar_items(["x", "nope"])


def test_a_network_without_item_vectors_cannot_give_similar_items():
    model = _model()

    class Opaque(torch.nn.Module):
        pass

    model.module = Opaque()
    with pytest.raises(UserError, match="gives no item vectors"):
        model.similar_items(["x"])


def test_unknown_users_get_popular_items_only_when_asked(capsys):
    with pytest.raises(UserError, match=r"1 of 2 users are unknown to this model \('new'\)"):
        _model("ranking").recommend(["new", "a"], k=2)
    found = _model("ranking").recommend(["new", "a"], k=2, fallback="popular")
    assert found["user"].tolist() == ["new", "new", "a", "a"]  # in the order asked
    assert found["source"].tolist() == ["popular", "popular", "model", "model"]
    assert found["item"].tolist()[:2] == ["x", "y"]  # 2 and 1 interactions
    assert found["score"].isna().tolist() == [True, True, False, False]
    assert found["item"].tolist()[2:] == ["y", "z"]  # a's scores 4, 0, -2; x seen
    assert "1 of 2 users are unknown to this model; they got the 2 most popular" in (
        capsys.readouterr().err
    )
