"""The target-text feature of a `type: text` output: tokenizers, ids, decoding, state, errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from modelyard.config.schema import TextInput, TextOutput
from modelyard.data.features.text import TextFeature
from modelyard.data.features.text_target import TextTargetFeature
from modelyard.errors import UserError

TEXTS = pd.Series(["Hola, mundo.", "el perro  come pan", "año niño"])


def target(tokenizer: str = "bpe", **prep) -> TextTargetFeature:
    config = TextOutput(
        name="spanish",
        type="text",
        preprocessing={"tokenizer": tokenizer, "vocab_size": 80, "min_frequency": 1, **prep},
    )
    return TextTargetFeature(config, is_output=True)


@pytest.mark.parametrize("kind", ["bpe", "wordpiece", "characters"])
def test_ids_have_bos_and_eos_and_decode_back(kind):
    feature = target(kind)
    feature.fit(TEXTS)
    ids = feature.transform(TEXTS)
    lengths = (ids != 0).sum(dim=1)
    assert ids.shape == (3, int(lengths.max()))
    assert (ids[:, 0] == feature.bos_id).all()
    assert [int(ids[i, n - 1]) for i, n in enumerate(lengths)] == [feature.eos_id] * 3
    expected = ["Hola, mundo.", "el perro come pan", "año niño"]
    decoded = [" ".join(t.split()) for t in feature.decode(ids)]
    assert decoded == expected


def test_characters_gives_one_id_per_character():
    feature = target("characters")
    feature.fit(TEXTS)
    assert int((feature.transform(pd.Series(["año"])) != 0).sum()) == 3 + 2


def test_decode_stops_at_the_first_eos():
    feature = target()
    feature.fit(TEXTS)
    ids = feature.transform(pd.Series(["el perro"]))
    extra = feature.transform(pd.Series(["pan"]))[:, 1:]  # more tokens after [EOS]
    assert feature.decode(ids.new_tensor(ids.tolist()[0] + extra.tolist()[0])[None]) == ["el perro"]


def test_long_targets_are_truncated_with_a_note():
    feature = target("characters", max_length=6)
    feature.fit(TEXTS)
    ids = feature.transform(TEXTS)
    assert ids.shape[1] == 6 and int(ids[0, -1]) == feature.eos_id
    assert any("truncated" in n for n in feature.notes)


def test_a_transcript_is_never_cut():
    config = TextOutput(
        name="text",
        type="text",
        decoder={"type": "ctc"},
        preprocessing={"tokenizer": "characters", "max_length": 8},
    )
    feature = TextTargetFeature(config, is_output=True)
    feature.fit(TEXTS)
    with pytest.raises(UserError, match="row 1: the transcript has 12 tokens.*raise max_length"):
        feature.transform(TEXTS)


def test_state_round_trips_through_json():
    feature = target()
    feature.fit(TEXTS)
    again = target()
    again.load_state(json.loads(json.dumps(feature.state())))
    assert again.transform(TEXTS).equal(feature.transform(TEXTS))
    assert again.vocab_size == feature.vocab_size and again.eos_id == feature.eos_id


def test_shared_reuses_the_text_inputs_tokenizer():
    source = TextFeature(TextInput(name="english", type="text", preprocessing={"min_frequency": 1}))
    source.fit(pd.Series(["the dog eats bread", "hello world"]))
    feature = target("shared")
    feature.attach([source])
    feature.fit(pd.Series(["the dog"]))
    assert feature.vocab_size == source.vocab_size + 2  # [BOS] and [EOS] added
    ids = feature.transform(pd.Series(["the dog"]))
    assert ids[0, 1:-1].tolist() == source.transform(pd.Series(["the dog"]))[0].tolist()


def test_shared_without_a_text_input_is_a_user_error():
    feature = target("shared")
    feature.attach([])
    with pytest.raises(UserError, match="shared needs a text input"):
        feature.fit(TEXTS)


def test_an_empty_target_text_names_the_row():
    feature = target()
    feature.fit(TEXTS)
    with pytest.raises(UserError, match="row 2: the target text in column 'spanish' is empty"):
        feature.transform(pd.Series(["hola", "  "]))


def test_preprocessing_picks_the_target_feature_for_a_text_output():
    from modelyard.config import validate
    from modelyard.data.features import Preprocessing

    config = validate(
        {
            "inputs": [{"name": "english", "type": "text"}],
            "outputs": [{"name": "spanish", "type": "text"}],
        },
        "test",
    )
    prep = Preprocessing(config)
    assert isinstance(prep.outputs[0], TextTargetFeature)
    assert prep.outputs[0].source_input is prep.inputs[0]
