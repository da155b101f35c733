"""Text features: tokenizers trained on training texts, truncation, padding, saved state."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from modelyard.config.schema import TextInput
from modelyard.data.features.text import TextFeature
from modelyard.errors import UserError

TRAIN = pd.Series(["the cat sat on the mat", "the dog sat", "a cat and a dog", "The Mat"] * 3)


def feature(**preprocessing) -> TextFeature:
    return TextFeature(TextInput(name="review", type="text", preprocessing=preprocessing))


def fitted(series=TRAIN, **preprocessing) -> TextFeature:
    f = feature(**{"vocab_size": 200, "min_frequency": 1} | preprocessing)
    f.fit(series)
    return f


@pytest.mark.parametrize("tokenizer", ["bpe", "wordpiece", "whitespace"])
def test_each_tokenizer_gives_padded_ids(tokenizer):
    f = fitted(tokenizer=tokenizer)
    ids = f.transform(pd.Series(["the cat sat on the mat", "dog"]))
    assert ids.dtype == torch.int64
    assert ids.shape[0] == 2
    assert (ids[0] != 0).all()  # the longest text fills the row
    assert ids[1, 0] != 0 and (ids[1, 1:] == 0).all()  # shorter texts are padded with 0
    assert 3 < f.vocab_size <= 200


def test_whitespace_tokenizer_keeps_whole_words_and_lowercases():
    f = fitted(tokenizer="whitespace")
    vocab = f.tokenizer.get_vocab()
    assert {"the", "cat", "mat"} <= set(vocab)
    assert "The" not in vocab
    assert vocab["[PAD]"] == 0 and vocab["[UNK]"] == 1


def test_lowercase_off_keeps_case():
    assert "The" in fitted(tokenizer="whitespace", lowercase=False).tokenizer.get_vocab()


def test_unknown_words_map_to_unk():
    ids = fitted(tokenizer="whitespace").transform(pd.Series(["zebra cat"]))
    assert ids[0, 0] == 1


def test_max_length_truncates_with_a_note():
    f = fitted(tokenizer="whitespace", max_length=3)
    ids = f.transform(pd.Series(["the cat sat on the mat", "dog"]))
    assert ids.shape == (2, 3)
    assert f.notes == ["review: 1 texts truncated to 3 tokens"]


def test_length_is_the_longest_text_in_the_batch():
    assert fitted(tokenizer="whitespace").transform(pd.Series(["cat", "the dog"])).shape == (2, 2)


def test_empty_and_missing_texts_get_one_unknown_token():
    f = fitted(tokenizer="whitespace")
    ids = f.transform(pd.Series(["", None]))
    assert ids.tolist() == [[1], [1]]
    assert f.notes == ["review: 2 missing texts treated as empty"]


def test_fit_on_train_only():
    f = fitted(tokenizer="whitespace")
    before = f.state()
    f.transform(pd.Series(["completely new words here"]))
    assert f.state() == before
    assert "completely" not in f.tokenizer.get_vocab()


def test_no_text_in_training_data():
    with pytest.raises(UserError, match="column 'review' has no text in the training data"):
        fitted(pd.Series(["", None, "  "]))


@pytest.mark.parametrize("tokenizer", ["bpe", "wordpiece", "whitespace"])
def test_state_round_trips_through_json(tokenizer):
    f = fitted(tokenizer=tokenizer)
    g = feature(tokenizer=tokenizer, vocab_size=200, min_frequency=1)
    g.load_state(json.loads(json.dumps(f.state())))
    series = pd.Series(["the cat sat on a dog", "mat", "unseen words"])
    assert torch.equal(g.transform(series), f.transform(series))
    assert g.vocab_size == f.vocab_size


def test_characters_tokenizer_gives_one_id_per_character_spaces_included():
    f = fitted(tokenizer="characters", max_length=8)
    ids = f.transform(pd.Series(["cat sat", "the mat sat on"]))
    assert f.token_strings(ids[0].tolist()) == ["c", "a", "t", " ", "s", "a", "t", "[PAD]"]
    assert ids.shape == (2, 8)  # the longer text is cut at max_length characters
    assert f.token_strings(f.transform(pd.Series(["cat!"]))[0].tolist())[-1] == "[UNK]"
    assert f.vocab_size == 3 + len(set("".join(TRAIN).lower()))
