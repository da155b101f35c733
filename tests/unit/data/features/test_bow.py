"""Text inputs of the bow encoder: n-gram vocabulary fitted in parts, TF-IDF weights as
scikit-learn's, saved state, and the config checks of the encoder."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from modelyard.config import validate
from modelyard.config.schema import TextInput
from modelyard.data.features.bow import BowTextFeature
from modelyard.data.features.text import TextFeature
from modelyard.errors import ConfigError, UserError
from modelyard.models.encoders.bow import TextBow

TRAIN = pd.Series(
    [
        "the cat sat on the mat",
        "the dog sat",
        "a cat and a dog",
        "The Mat, the MAT!",
        "dogs chase cats",
        None,
        "cat cat cat",
    ]
)


def feature(**encoder) -> BowTextFeature:
    config = TextInput(name="review", type="text", encoder={"type": "bow"} | encoder)
    f = TextFeature.variant(config)(config)
    assert isinstance(f, BowTextFeature)
    return f


def fitted(series=TRAIN, **encoder) -> BowTextFeature:
    f = feature(**{"min_count": 1} | encoder)
    f.fit(series)
    return f


def dense(f: BowTextFeature, texts: list[str]) -> tuple[np.ndarray, list[str]]:
    """(N, V) TF-IDF matrix from the feature and the encoder's weights, and the n-gram names."""
    x = f.transform(pd.Series(texts))
    weights = TextBow(f.idf, f.first_char_id, 4, [], 0.0).weights(x)
    matrix = torch.zeros(len(texts), f.vocab_size).scatter_add_(1, x[:, 0].long(), weights)
    return matrix[:, 1:].numpy(), f.token_strings(list(range(1, f.vocab_size)))


def test_weights_are_scikit_learns_tfidf_union():
    """Same n-grams, same smooth idf, sublinear tf and L2 norm per kind as the TF-IDF baseline."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = TRAIN.dropna().tolist()
    f = fitted(pd.Series(texts))
    tests = ["the cat sat on a dog", "cat cat mat mat mat", "nothing known here!"]
    ours, names = dense(f, tests)
    words, chars = f.grams
    assert names == words + chars
    for kind, vectorizer in enumerate(
        [
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
        ]
    ):
        theirs = vectorizer.fit(texts).transform(tests).toarray()
        columns = [vectorizer.vocabulary_[g] for g in f.grams[kind]]
        start = 0 if kind == 0 else len(words)
        np.testing.assert_allclose(
            ours[:, start : start + len(columns)], theirs[:, columns], atol=1e-6
        )
        assert sorted(vectorizer.vocabulary_) == sorted(f.grams[kind])  # min_count 1: all


def test_fit_in_parts_gives_the_state_of_a_whole_fit():
    """The document frequencies add up: a streamed fit and an in-memory one agree."""
    whole = fitted(TRAIN, min_count=2, max_ngrams=30)
    f = feature(min_count=2, max_ngrams=30)
    f.start_fit()
    for start in range(0, len(TRAIN), 3):
        f.fit_part(TRAIN.iloc[start : start + 3])
    f.end_fit()
    assert f.state() == whole.state()
    assert len(whole.idf) == 31  # padding + 30 n-grams
    assert not whole.trains_from_iterator  # Preprocessing.end_fit calls end_fit()


def test_min_count_and_max_ngrams_keep_the_most_frequent():
    f = fitted(min_count=3, chars=None)
    assert f.grams == [["cat", "the"]]  # each in 3 texts; 'sat', 'dog', 'mat' in 2
    f = fitted(max_ngrams=1, chars=None)
    assert f.grams == [["cat"]]  # 'cat' and 'the' tie at 3 texts: the first in order
    with pytest.raises(UserError, match="lower encoder.min_count"):
        fitted(min_count=50)


def test_transform_gives_distinct_ids_and_counts_and_drops_unknown_ngrams():
    f = fitted(chars=None)
    x = f.transform(pd.Series(["cat cat zebra", "", "zebra"]))
    assert x.dtype == torch.int32 and x.shape[:2] == (3, 2)
    ids = dict(zip(f.token_strings(x[0, 0].tolist()), x[0, 1].tolist(), strict=True))
    assert ids == {"cat": 2, "cat cat": 1}
    assert (x[1:] == 0).all()  # empty and unknown texts: padding only


def test_long_texts_keep_their_heaviest_ngrams_with_a_note():
    f = fitted(per_text=3, chars=None)
    x = f.transform(pd.Series(["the cat dogs chase cats", "cat"]))
    assert x.shape[2] == 3
    kept = f.token_strings(x[0, 0].tolist())
    assert kept == ["dogs", "chase", "cats"]  # in 1 text; 'the', 'cat' in 3: lower idf
    assert any("keep their 3 n-grams of highest weight" in n for n in f.notes)


def test_state_round_trips_through_json():
    f = fitted()
    g = feature()
    g.load_state(json.loads(json.dumps(f.state())))
    texts = pd.Series(["a cat and a mat", "dogs"])
    assert torch.equal(g.transform(texts), f.transform(texts))
    assert torch.equal(g.idf, f.idf) and g.first_char_id == f.first_char_id


def test_lowercase_setting_applies():
    config = TextInput(
        name="r",
        type="text",
        encoder={"type": "bow", "min_count": 1, "chars": None},
        preprocessing={"lowercase": False},
    )
    f = BowTextFeature(config)
    f.fit(pd.Series(["Cat cat"]))
    assert f.grams == [["Cat", "Cat cat", "cat"]]


def test_numbers_and_empty_columns_are_user_errors():
    with pytest.raises(UserError, match="holds numbers, not text"):
        fitted(pd.Series([1, 2, 3]))
    with pytest.raises(UserError, match="has no text"):
        fitted(pd.Series([None, ""], dtype=object))


def _config(encoder: dict, preprocessing: dict | None = None) -> dict:
    text = {"name": "t", "type": "text", "encoder": {"type": "bow"} | encoder}
    if preprocessing:
        text["preprocessing"] = preprocessing
    return {"inputs": [text], "outputs": [{"name": "y", "type": "category"}]}


@pytest.mark.parametrize(
    ("encoder", "preprocessing", "expected"),
    [
        (
            {"words": [3, 1]},
            None,
            "inputs[0].encoder.words: [3, 1] is not a range [from, to] of n-gram lengths; write [1, 3]",
        ),
        (
            {"words": None, "chars": None},
            None,
            "inputs[0].encoder: words and chars are both null, so there are no n-grams; set one, e.g. words: [1, 2]",
        ),
        (
            {},
            {"tokenizer": "wordpiece", "max_length": 64},
            "inputs[0].preprocessing: tokenizer, max_length do not apply to the bow encoder",
        ),
    ],
)
def test_bad_bow_settings_are_named(encoder, preprocessing, expected):
    with pytest.raises(ConfigError) as info:
        validate(_config(encoder, preprocessing))
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems


@pytest.mark.parametrize("bad", [{"words": [1]}, {"chars": [0, 2]}, {"dim": 0}, {"ngrams": 3}])
def test_malformed_bow_values_are_schema_errors(bad):
    with pytest.raises(ConfigError):
        validate(_config(bad))
