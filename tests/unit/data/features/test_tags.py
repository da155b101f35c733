"""Tags outputs: word-mode text, alignment to own and pretrained sub-word tokens, bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from modelyard.config.schema import TagsOutput, TextInput
from modelyard.data.features.tags import IGNORE, TagsFeature, is_bio
from modelyard.data.features.text import TextFeature, split_words
from modelyard.errors import UserError
from tests.pretrained_fixtures import save_tiny_checkpoint

TOKENS = pd.Series(["the cat sat", '["a", "dog", "ran", "in", "the", "park"]', "lovely cat"] * 4)
TAGS = pd.Series(["O B-ANI O", '["O", "B-ANI", "O", "O", "B-LOC", "I-LOC"]', "O B-ANI"] * 4)


def linked(encoder: dict | None = None, **preprocessing) -> tuple[TextFeature, TagsFeature]:
    """A text input and a tags output linked as `Preprocessing` links them."""
    text = TextFeature(
        TextInput(
            name="tokens",
            type="text",
            encoder=encoder or {"type": "rnn"},
            preprocessing=preprocessing,
        )
    )
    tags = TagsFeature(TagsOutput(name="ner", type="tags"), is_output=True)
    tags.attach([text])
    return text, tags


def fitted(encoder=None, **preprocessing) -> tuple[TextFeature, TagsFeature]:
    defaults = {} if encoder else {"vocab_size": 100, "min_frequency": 1}
    text, tags = linked(encoder, **defaults | preprocessing)
    text.fit(TOKENS)
    tags.fit(TAGS)
    return text, tags


def test_split_words_reads_space_separated_json_lists_and_lists():
    assert split_words("a  b c") == (["a", "b", "c"], False)
    assert split_words('["New York", "is"]') == (["New York", "is"], True)
    assert split_words(["x", "y"]) == (["x", "y"], True)
    assert split_words("[ not json") == (["[", "not", "json"], False)
    assert split_words(None) == ([], False)


def test_attach_puts_the_text_input_in_word_mode():
    text, tags = linked()
    assert text.words and tags.text is text


def test_vocabulary_puts_o_first_and_knows_bio():
    _, tags = fitted(tokenizer="whitespace")
    assert tags.vocab == ["O", "B-ANI", "B-LOC", "I-LOC"]
    assert tags.bio
    assert is_bio("S-X") and not is_bio("NN") and not is_bio("B-")


def test_whitespace_tokenizer_labels_every_word():
    text, tags = fitted(tokenizer="whitespace")
    ids = text.transform(TOKENS[:3])
    target = tags.transform(TAGS[:3])
    assert ids.shape == target.shape == (3, 6)
    assert target[0].tolist() == [0, 1, 0, IGNORE, IGNORE, IGNORE]  # padding ignored
    assert target[1].tolist() == [0, 1, 0, 0, 2, 3]


def test_bpe_labels_only_the_first_piece_of_each_word():
    text, tags = fitted(tokenizer="bpe", vocab_size=30)  # tiny vocabulary: words split
    ids = text.transform(pd.Series(["lovely cat"]))
    target = tags.transform(pd.Series(["O B-ANI"]))
    pieces = [p for p in text.tokenizer.encode(["lovely", "cat"], is_pretokenized=True).word_ids]
    assert len(pieces) > 2  # the words were split into pieces
    labelled = target[0][target[0] != IGNORE].tolist()
    assert labelled == [0, 1]
    first = [p == 0 or pieces[p - 1] != pieces[p] for p in range(len(pieces))]
    assert [t != IGNORE for t in target[0].tolist()] == first
    assert ids.shape == target.shape


def test_pretrained_tokenizer_ignores_special_tokens_and_continuations(tmp_path):
    text, tags = linked({"type": "pretrained", "model": "unused"})
    text.source = save_tiny_checkpoint(tmp_path / "bert", "bert")
    text.fit(TOKENS)
    tags.fit(TAGS)
    ids = text.transform(pd.Series(["the cat sat", "lovely cat"]))
    target = tags.transform(pd.Series(["O B-ANI O", "O B-ANI"]))
    assert ids.shape[:2] == (2, 2) and ids.shape[2] == target.shape[1]
    words = text.alignment.word_ids[0]
    assert words[0] is None  # [CLS]
    assert target[0, 0] == IGNORE
    assert target[0][target[0] != IGNORE].tolist() == [0, 1, 0]
    assert (target[1][ids[1, 1] == 0] == IGNORE).all()  # padding


def test_truncated_words_get_no_label_and_predict_o():
    text, tags = fitted(tokenizer="whitespace", max_length=2)
    text.transform(pd.Series(["the cat sat"]))
    assert tags.transform(pd.Series(["O B-ANI O"])).tolist() == [[0, 1]]
    logits = torch.zeros(1, 2, 4)
    logits[0, 1, 1] = 5.0
    assert tags.predictions(logits) == ["O B-ANI O"]


def test_predictions_keep_the_input_form():
    text, tags = fitted(tokenizer="whitespace")
    text.transform(TOKENS[:2])
    logits = torch.zeros(2, 6, 4)
    logits[:, :, 0] = 1.0
    logits[1, 4, 2] = 5.0
    space, listed = tags.predictions(logits)
    assert space == "O O O"
    assert json.loads(listed) == ["O", "O", "O", "O", "B-LOC", "O"]


def test_sequences_read_the_labelled_positions():
    text, tags = fitted(tokenizer="whitespace")
    text.transform(TOKENS[:1])
    target = tags.transform(TAGS[:1])
    logits = torch.nn.functional.one_hot(target.clamp(min=0), 4).float()
    true, predicted = tags.sequences(logits, target, TAGS[:1])
    assert true == predicted == [["O", "B-ANI", "O"]]


def test_sequences_score_the_raw_tags_of_cut_words_and_unseen_tags():
    text, tags = fitted(tokenizer="whitespace", max_length=2)
    raw = pd.Series(["O B-NEW O"])
    text.transform(pd.Series(["the cat sat"]))
    target = tags.transform(raw)
    assert target.tolist() == [[0, 4]]  # B-NEW: index 4, no tag the model has; "sat" cut off
    logits = torch.zeros(1, 2, 4)
    logits[0, 1, 1] = 5.0
    true, predicted = tags.sequences(logits, target, raw)
    assert true == [["O", "B-NEW", "O"]] and predicted == [["O", "B-ANI", "O"]]


def test_tag_count_that_differs_from_token_count_names_the_row():
    text, tags = fitted(tokenizer="whitespace")
    text.transform(pd.Series(["the cat sat", "a dog"]))
    with pytest.raises(UserError, match=r"column 'ner' row 2: 3 tags for 2 tokens in 'tokens'"):
        tags.transform(pd.Series(["O B-ANI O", "O B-ANI O"]))


def test_training_data_without_tags_is_an_error():
    _, tags = linked()
    with pytest.raises(UserError, match="column 'ner' has no tags"):
        tags.fit(pd.Series([""]))


def test_state_round_trips_through_json():
    _, tags = fitted(tokenizer="whitespace")
    again = TagsFeature(TagsOutput(name="ner", type="tags"), is_output=True)
    again.load_state(json.loads(json.dumps(tags.state())))
    assert again.vocab == tags.vocab and again.bio
