"""The tagging model: shapes, padding, loss, built from a config by build_model."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from modelyard.config import validate
from modelyard.data.features import Preprocessing
from modelyard.data.features.tags import IGNORE
from modelyard.errors import UserError
from modelyard.models.build import build_losses, build_model
from modelyard.models.encoders.cnn import TextCnn
from modelyard.models.encoders.rnn import TextRnn
from modelyard.models.encoders.transformer import TextTransformer
from modelyard.tasks.tagging import TaggingModel, tagging_loss

ENCODERS = {
    "rnn": lambda: TextRnn(20, 8, "lstm", 6, 1, True, "mean", 0.0),
    "cnn": lambda: TextCnn(20, 8, 5, [3, 5], 0.0),
    "transformer": lambda: TextTransformer(20, 16, 8, 1, 2, 2, "mean", 0.0),
}


def tagger(kind: str, tags: int = 4) -> TaggingModel:
    torch.manual_seed(0)
    return TaggingModel("tokens", ENCODERS[kind](), ["ner"], [tags], [0.0]).eval()


@pytest.mark.parametrize("kind", ENCODERS)
def test_logits_per_token_and_tag(kind):
    ids = torch.randint(1, 20, (3, 7))
    assert tagger(kind)({"tokens": ids})["ner"].shape == (3, 7, 4)


@pytest.mark.parametrize("kind", ENCODERS)
def test_padding_does_not_change_the_real_tokens_logits(kind):
    model = tagger(kind)
    short = torch.tensor([[4, 5, 6]])
    padded = torch.tensor([[4, 5, 6, 0, 0], [7, 8, 9, 10, 11]])
    alone = model({"tokens": short})["ner"][0]
    batched = model({"tokens": padded})["ner"][0, :3]
    assert torch.allclose(alone, batched, atol=1e-5)


def test_pack_keeps_only_the_text_input():
    model = tagger("rnn")
    packed = model.pack({"tokens": torch.ones(2, 3, dtype=torch.long), "ner": torch.zeros(2, 3)})
    assert list(packed) == ["tokens"]


def test_loss_ignores_unlabelled_positions_and_smooths():
    logits = torch.randn(2, 3, 4)
    target = torch.tensor([[1, IGNORE, 2], [IGNORE, IGNORE, 0]])
    keep = target != IGNORE
    expected = torch.nn.functional.cross_entropy(logits[keep], target[keep])
    assert torch.isclose(tagging_loss(0.0)(logits, target), expected)
    smoothed = torch.nn.functional.cross_entropy(logits[keep], target[keep], label_smoothing=0.1)
    assert torch.isclose(tagging_loss(0.1)(logits, target), smoothed)
    assert tagging_loss(0.0)(logits, torch.full((2, 3), IGNORE)) == 0  # not NaN


def test_loss_gradients_reach_the_encoder():
    model = tagger("rnn").train()
    logits = model({"tokens": torch.randint(1, 20, (2, 5))})["ner"]
    tagging_loss(0.0)(logits, torch.randint(0, 4, (2, 5))).backward()
    assert model.encoders[0].embedding.weight.grad.abs().sum() > 0


def _config(**trainer) -> dict:
    return {
        "inputs": [
            {
                "name": "tokens",
                "type": "text",
                "encoder": {"type": "transformer", "dim": 8, "heads": 2, "layers": 1},
                "preprocessing": {"tokenizer": "whitespace", "min_frequency": 1},
            }
        ],
        "outputs": [{"name": "pos", "type": "tags", "label_smoothing": 0.1}],
        "trainer": trainer,
    }


def _fitted(config: dict) -> tuple:
    parsed = validate(config)
    prep = Preprocessing(parsed)
    prep.fit(pd.DataFrame({"tokens": ["the cat sat", "a dog"], "pos": ["DT NN VB", "DT NN"]}))
    return parsed, prep


def test_build_model_dispatches_to_the_tagger_with_its_loss():
    config, prep = _fitted(_config())
    model = build_model(config, prep)
    assert isinstance(model, TaggingModel)
    assert model.heads[0][1].out_features == 3
    weight, loss = build_losses(config)["pos"]
    assert weight == 1.0 and loss(torch.zeros(1, 2, 3), torch.tensor([[0, IGNORE]])) > 0


def test_entity_early_stopping_on_tags_that_are_not_bio_is_an_error():
    config, prep = _fitted(_config(early_stopping={"metric": "f1_entity"}))
    with pytest.raises(UserError, match="f1_entity needs BIO tags .* output 'pos' has tags like"):
        build_model(config, prep)
