"""What the tools ask an input's preprocessor instead of its type: serve's request values,
export's made-up tensors, length axes and descriptions, explain's layer and baseline."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from PIL import Image
from torch import nn

from modelyard.config.schema import (
    AudioInput,
    BinaryInput,
    CategoryInput,
    ImageInput,
    NumberInput,
    TextInput,
)
from modelyard.data.features.audio import AudioFeature
from modelyard.data.features.image import ImageFeature
from modelyard.data.features.tabular import BinaryFeature, CategoryFeature, NumberFeature
from modelyard.data.features.text import TextFeature
from modelyard.errors import UserError
from modelyard.models.encoders.mlp import TextMlp
from modelyard.models.encoders.pixels import Pixels
from tests.pretrained_fixtures import save_tiny_checkpoint

TEXTS = pd.Series(["the cat sat on the mat", "the dog sat", "a cat and a dog"] * 2)


def _number() -> NumberFeature:
    f = NumberFeature(NumberInput(name="age", type="number"))
    f.fit(pd.Series([1.0, 2.0, 4.0]))
    return f


def _binary() -> BinaryFeature:
    f = BinaryFeature(BinaryInput(name="member", type="binary"))
    f.fit(pd.Series(["yes", "no", "yes"]))
    return f


def _category(values=("red", "blue", "red")) -> CategoryFeature:
    f = CategoryFeature(CategoryInput(name="colour", type="category"))
    f.fit(pd.Series(list(values)))
    return f


def _text(**preprocessing) -> TextFeature:
    settings = {"vocab_size": 100, "min_frequency": 1, "max_length": 6} | preprocessing
    f = TextFeature(TextInput(name="review", type="text", preprocessing=settings))
    f.fit(TEXTS)
    return f


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory) -> TextFeature:
    checkpoint = save_tiny_checkpoint(tmp_path_factory.mktemp("bert"), "bert")
    config = TextInput(
        name="review",
        type="text",
        encoder={"type": "pretrained", "model": str(checkpoint)},
        preprocessing={"max_length": 8},
    )
    f = TextFeature(config)
    f.source = checkpoint
    f.fit(TEXTS)
    return f


@pytest.fixture
def image(tmp_path) -> tuple[ImageFeature, pd.Series]:
    paths = []
    for i, colour in enumerate([(255, 0, 0), (0, 0, 255)]):
        Image.new("RGB", (5, 3), colour).save(tmp_path / f"{i}.png")
        paths.append(str(tmp_path / f"{i}.png"))
    f = ImageFeature(ImageInput(name="photo", type="image"))
    f.fit(pd.Series(paths))
    return f, pd.Series(paths)


def _audio() -> AudioFeature:
    return AudioFeature(AudioInput(name="clip", type="audio"))


def _seeded() -> torch.Generator:
    return torch.Generator().manual_seed(0)


# ---------------------------------------------------------------- export


@pytest.mark.parametrize(
    "make, column",
    [
        (_number, pd.Series([3.0, 1.0])),
        (_binary, pd.Series(["no", "yes"])),
        (_category, pd.Series(["red", "green"])),
        (_text, TEXTS[:2]),
    ],
    ids=["number", "binary", "category", "text"],
)
def test_example_tensors_have_the_form_transform_gives(make, column):
    feature = make()
    made, real = feature.example_tensor(3, _seeded()), feature.transform(column)
    assert made.dtype == real.dtype and made.ndim == real.ndim and made.shape[0] == 3
    assert torch.equal(made, feature.example_tensor(3, _seeded()))  # reproducible


def test_example_categories_index_the_vocabulary():
    feature = _category()
    made = feature.example_tensor(50, _seeded())
    assert made.min() >= 0 and made.max() < len(feature.vocab)


def test_example_texts_are_max_length_ids_with_padding_after_the_middle():
    made = _text(max_length=6).example_tensor(4, _seeded())
    assert made.shape == (4, 6)
    assert (made[:, :3] >= 3).all() and (made[:, 3:] == 0).all()


def test_example_pretrained_texts_are_ids_and_masks_of_different_lengths(pretrained):
    made = pretrained.example_tensor(4, _seeded())
    real = pretrained.transform(TEXTS[:2])
    assert made.dtype == real.dtype and made.shape == (4, 2, 8)
    ids, mask = made[:, 0], made[:, 1]
    assert mask.sum(dim=1).tolist() == [2, 4, 6, 8]
    assert (ids[mask == 0] == pretrained.tokenizer.pad_token_id).all()


def test_example_images_have_the_fitted_size(image):
    feature, paths = image
    made, real = feature.example_tensor(2, _seeded()), feature.transform(paths)
    assert made.dtype == torch.uint8 and made.shape == real.shape == (2, 3, 3, 5)


def test_audio_cannot_be_made_up_and_asks_for_data():
    with pytest.raises(UserError) as error:
        _audio().example_tensor(4, _seeded())
    assert str(error.value) == (
        "input 'clip' (audio): give --data (a few rows of real inputs) to export this model"
    )


def test_only_text_has_a_length_axis(pretrained, image):
    assert _text(max_length=6).length_axis() == (1, 6)
    assert pretrained.length_axis() == (2, 8)
    for feature in (_number(), _binary(), _category(), image[0], _audio()):
        assert feature.length_axis() is None


def test_export_descriptions_say_how_values_are_made_and_where_the_tokenizer_is(pretrained):
    assert _category().export_description() == {
        "preprocessing": "index into the vocabulary in preprocessing.json (0 = unknown)"
    }
    assert _number().export_description() == {"preprocessing": "see preprocessing.json"}
    text = _text(max_length=6).export_description()
    assert list(text) == ["preprocessing", "tokenizer", "tokenize", "max_length"]
    assert text["tokenizer"] == "model/preprocessing.json, key review.tokenizer"
    assert text["max_length"] == 6
    assert pretrained.export_description()["tokenizer"] == "model/backbones/review/"


# ---------------------------------------------------------------- serve


def test_file_inputs_are_images_and_audio(image):
    assert image[0].from_file and _audio().from_file
    assert not any(f.from_file for f in (_number(), _binary(), _category(), _text()))


def test_a_number_form_field_is_parsed_and_a_blank_one_stays_missing():
    feature = _number()
    assert feature.parse_form_field(" 2.5 ") == 2.5
    assert feature.parse_form_field("  ") == "  "
    with pytest.raises(ValueError, match="^'abc' is not a number$"):
        feature.parse_form_field("abc")
    assert _category().parse_form_field("7") == "7"  # other inputs keep the text


def test_a_number_is_a_category_only_where_training_values_were_numbers():
    words, numbers = _category(), _category(("3", "4", "3"))
    words.check_request_value("green")  # unseen words map to unknown
    numbers.check_request_value(6)  # an unseen number of a numeric category, too
    with pytest.raises(ValueError) as error:
        words.check_request_value(6)
    assert str(error.value) == (
        "6 is not one of the categories of 'colour' ('red', 'blue', ...); send one of them as a string"
    )
    with pytest.raises(ValueError, match="^true is not one of"):
        numbers.check_request_value(True)


# ---------------------------------------------------------------- explain


def test_explain_kinds_layers_and_baselines(image):
    feature, paths = image
    pixels = nn.Sequential(Pixels(feature.mean, feature.std), nn.Flatten())
    assert feature.explain_kind == "image" and feature.attribution_layer(pixels) is pixels[0]
    base = feature.explain_baseline(feature.transform(paths))
    assert base.dtype == torch.uint8 and base.shape == (2, 3, 3, 5)
    assert base[0, :, 0, 0].tolist() == [128, 0, 128]  # the mean of red and blue

    text, encoder = _text(), TextMlp(50, 4, [], 0.0)
    assert text.explain_kind == "text" and text.attribution_layer(encoder) is encoder.embedding
    ids = text.transform(TEXTS[:2])
    assert torch.equal(text.explain_baseline(ids), torch.zeros_like(ids))
    assert text.token_strings(ids[1, :3].tolist()) == ["the", "dog", "sat"]

    category = _category()
    assert category.explain_kind == "category" and category.attribution_layer(encoder) is encoder
    assert _number().explain_kind == "other" == _audio().explain_kind


def test_a_pretrained_text_baseline_pads_real_tokens_and_keeps_the_mask(pretrained):
    x = pretrained.transform(TEXTS[:2])
    base = pretrained.explain_baseline(x)
    pad = pretrained.tokenizer.pad_token_id
    assert torch.equal(base[:, 1], x[:, 1])
    assert (base[:, 0] == pad).all()
