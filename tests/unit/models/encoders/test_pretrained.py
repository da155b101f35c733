"""Pretrained Hugging Face encoders: every architecture loads, trains, freezes, adapts (LoRA), saves."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from modelyard import Model, UserError
from tests.conftest import make_table
from tests.pretrained_fixtures import save_tiny_checkpoint

ARCHITECTURES = ["bert", "roberta", "distilbert", "gpt2", "llama"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("checkpoints")
    return {name: save_tiny_checkpoint(root / name, name) for name in ARCHITECTURES}


def _config(checkpoint, epochs: int = 2, **encoder) -> dict:
    return {
        "name": "pretrained",
        "data": {"split": {"validation": 0.2, "test": 0.0}},
        "inputs": [
            {
                "name": "review",
                "type": "text",
                "encoder": {"type": "pretrained", "model": str(checkpoint), **encoder},
                "preprocessing": {"max_length": 16},
            }
        ],
        "outputs": [{"name": "label", "type": "category"}],
        "combiner": {"type": "concat"},
        "trainer": {"epochs": epochs, "batch_size": 16, "optimizer": {"type": "adamw", "lr": 0.01}},
    }


def _backbone(model: Model):
    return model.module.encoders[0].backbone


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_each_architecture_fine_tunes_saves_and_reloads(checkpoints, architecture, tmp_path):
    from transformers import AutoModel, AutoTokenizer

    model = Model.from_config(_config(checkpoints[architecture])).fit(train=make_table(80))
    expected_pooling = "last" if architecture in ("gpt2", "llama") else "mean"
    assert model.module.encoders[0].pooling == expected_pooling
    frame = make_table(12, seed=3)
    model.save(tmp_path / "saved")
    reloaded = Model.load(tmp_path / "saved")
    pd.testing.assert_frame_equal(reloaded.predict(frame), model.predict(frame))
    backbone_dir = tmp_path / "saved/backbones/review"
    hf = AutoModel.from_pretrained(str(backbone_dir)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(backbone_dir))
    ids = tokenizer(["great lovely"], return_tensors="pt")
    ours = _backbone(model).eval()(**ids).last_hidden_state
    torch.testing.assert_close(hf(**ids).last_hidden_state, ours)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_every_weight_gets_a_gradient(checkpoints, architecture):
    """DDP (torchrun) refuses weights outside the loss: BERT's pooler must not stay behind."""
    from modelyard.models.encoders import pretrained

    encoder = pretrained.PretrainedText(
        pretrained.load_backbone(checkpoints[architecture]), "auto", 0.0, None
    )
    ids = torch.randint(5, 60, (2, 6))
    encoder(torch.stack([ids, torch.ones_like(ids)], dim=1)).sum().backward()
    assert [n for n, p in encoder.named_parameters() if p.grad is None] == []


def test_a_pretrained_encoder_embeds_tokens_with_its_backbone_and_keeps_their_states(checkpoints):
    from modelyard.models.encoders import pretrained
    from modelyard.models.encoders.common import TokenEmbedder, TokenStatesEncoder

    backbone = pretrained.load_backbone(checkpoints["bert"])
    encoder = pretrained.PretrainedText(backbone, "auto", 0.0, None)
    assert isinstance(encoder, TokenEmbedder) and isinstance(encoder, TokenStatesEncoder)
    assert encoder.token_embedding() is backbone.get_input_embeddings()


def test_backbone_trains_at_its_own_learning_rate(checkpoints):
    model = Model.from_config(_config(checkpoints["bert"], epochs=1, lr=0.0003))
    model.fit(train=make_table(40))
    from modelyard.train.optim import param_groups

    groups = param_groups(model.module)
    assert [g.get("lr") for g in groups] == [None, 0.0003]
    backbone_ids = {id(p) for p in _backbone(model).parameters()}
    assert all(id(p) in backbone_ids for p in groups[1]["params"])
    assert not any(id(p) in backbone_ids for p in groups[0]["params"])


@pytest.mark.parametrize("freeze", ["all", "embeddings", 1])
def test_frozen_parts_do_not_change(checkpoints, freeze):
    from transformers import AutoModel

    original = AutoModel.from_pretrained(str(checkpoints["bert"])).state_dict()
    original = {k: v for k, v in original.items() if not k.startswith("pooler.")}  # dropped
    model = Model.from_config(_config(checkpoints["bert"], freeze=freeze, lr=0.01)).fit(
        train=make_table(60)
    )
    after = _backbone(model).state_dict()
    unchanged = {k for k in original if torch.equal(original[k], after[k])}
    embeddings = {k for k in original if k.startswith("embeddings.")}
    first_layer = {k for k in original if k.startswith("encoder.layer.0.")}
    second_layer = {k for k in original if k.startswith("encoder.layer.1.")}
    if freeze == "all":
        assert unchanged == set(original)
    else:
        assert embeddings <= unchanged
        assert (first_layer <= unchanged) == (freeze == 1)
        assert not second_layer <= unchanged


def test_lora_trains_adapters_only_and_exports_merged(checkpoints, tmp_path):
    from transformers import AutoModel

    original = AutoModel.from_pretrained(str(checkpoints["bert"])).state_dict()
    original = {k: v for k, v in original.items() if not k.startswith("pooler.")}  # dropped
    model = Model.from_config(_config(checkpoints["bert"], lora={"rank": 4, "alpha": 8})).fit(
        train=make_table(60)
    )
    trainable = {n for n, p in _backbone(model).named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    base = {
        k.replace("base_model.model.", "").replace(".base_layer", ""): v
        for k, v in _backbone(model).state_dict().items()
        if "lora_" not in k
    }
    for key, value in original.items():
        torch.testing.assert_close(base[key], value)
    model.save(tmp_path / "saved")
    size = json.loads((tmp_path / "saved/meta.json").read_text())["parameters"]
    frozen = sum(p.numel() for p in _backbone(model).parameters() if not p.requires_grad)
    assert frozen > 0 and size["parameters"] - size["trainable"] == frozen  # LoRA's base weights
    merged = AutoModel.from_pretrained(str(tmp_path / "saved/backbones/review")).state_dict()
    query = "encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(merged[query], original[query])
    frame = make_table(10, seed=4)
    pd.testing.assert_frame_equal(
        Model.load(tmp_path / "saved").predict(frame), model.predict(frame)
    )


def test_bad_checkpoints_and_columns_are_user_errors(tmp_path, checkpoints):
    with pytest.raises(UserError, match="does not exist"):
        Model.from_config(_config(tmp_path / "nowhere")).fit(train=make_table(20))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not a transformers checkpoint"):
        Model.from_config(_config(tmp_path / "empty")).fit(train=make_table(20))
    frame = make_table(20)
    frame["review"] = range(20)
    with pytest.raises(UserError, match="holds numbers, not text"):
        Model.from_config(_config(checkpoints["bert"])).fit(train=frame)
    config = _config(checkpoints["bert"])
    config["inputs"][0]["preprocessing"]["vocab_size"] = 500
    with pytest.raises(UserError, match="vocab_size do not apply to a pretrained encoder"):
        Model.from_config(config)


def test_random_init_keeps_the_architecture_but_not_the_weights(checkpoints, tmp_path):
    from transformers import AutoModel

    original = AutoModel.from_pretrained(str(checkpoints["bert"])).state_dict()
    original = {k: v for k, v in original.items() if not k.startswith("pooler.")}  # dropped
    model = Model.from_config(_config(checkpoints["bert"], epochs=1, init="random")).fit(
        train=make_table(40)
    )
    fresh = _backbone(model).state_dict()
    assert fresh.keys() == original.keys()
    assert not torch.equal(
        fresh["encoder.layer.0.attention.self.query.weight"],
        original["encoder.layer.0.attention.self.query.weight"],
    )
    model.save(tmp_path / "saved")
    frame = make_table(8, seed=2)
    pd.testing.assert_frame_equal(
        Model.load(tmp_path / "saved").predict(frame), model.predict(frame)
    )


@pytest.fixture
def _levels():
    import logging

    from transformers.utils import logging as hf_logging

    levels = logging.getLogger("modelyard").level, hf_logging.get_verbosity()
    yield
    logging.getLogger("modelyard").setLevel(levels[0])
    hf_logging.set_verbosity(levels[1])


def test_the_transformers_load_report_shows_only_when_verbose(tmp_path, _levels):
    """A BERT checkpoint's unused pooler makes transformers log a 'LOAD REPORT' table in raw
    terminal colours; modelyard keeps it for -v. (Records are caught on transformers' logger:
    its own handler writes to whatever stderr was when it was made.)"""
    import logging

    from modelyard.models.encoders.pretrained import load_backbone

    class Caught(logging.Handler):
        messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    checkpoint = save_tiny_checkpoint(tmp_path / "bert", "bert")
    caught = Caught()
    logging.getLogger("transformers").addHandler(caught)
    try:
        load_backbone(checkpoint)
        assert not any("LOAD REPORT" in m for m in caught.messages)
        from modelyard.train.progress import verbosity

        verbosity("verbose")
        load_backbone(checkpoint)
        assert any("LOAD REPORT" in m for m in caught.messages)
    finally:
        logging.getLogger("transformers").removeHandler(caught)


def test_an_unloadable_checkpoint_is_a_user_error_but_a_failure_inside_is_not(
    checkpoints, tmp_path, monkeypatch
):
    import shutil

    import transformers

    from modelyard.models.encoders.pretrained import load_backbone, load_tokenizer

    bare = tmp_path / "config-only"
    bare.mkdir()
    shutil.copy(checkpoints["bert"] / "config.json", bare)  # no weights
    with pytest.raises(UserError, match="cannot be loaded by transformers.AutoModel"):
        load_backbone(bare)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "config.json").write_text('{"model_type": "no-such-model"}', encoding="utf-8")
    with pytest.raises(UserError, match="its tokenizer cannot be loaded"):
        load_tokenizer(foreign)

    def fail(*args, **kwargs):
        raise MemoryError("out of memory")

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", fail)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", fail)
    with pytest.raises(MemoryError):
        load_backbone(checkpoints["bert"])
    with pytest.raises(MemoryError):
        load_tokenizer(checkpoints["bert"])
