"""Texts get one score per real token, images a heatmap of their size, bad requests a plain error."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from modelyard import Model, UserError
from modelyard.explain import explain
from modelyard.explain.inputs import Heatmap, Part, feature_mask
from tests.conftest import make_table, tiny_config, write_images
from tests.unit.explain.conftest import x1_table


@pytest.mark.parametrize(
    "encoder", [None, {"type": "transformer", "dim": 8, "heads": 2, "layers": 1}]
)
@pytest.mark.parametrize("method", ["integrated_gradients", "shap"])
def test_text_gets_one_score_per_real_token(encoder, method):
    config = tiny_config(epochs=1)
    if encoder:
        config["inputs"][4]["encoder"] = encoder
    config["data"] = {"split": {"validation": 0.0, "test": 0.0}}
    model = Model.from_config(config).fit(train=make_table(80))
    frame = make_table(3, seed=9)
    frame.loc[1, "review"] = "great"  # shorter than the others: padding must not be scored
    tokenizer = model.preprocessing.inputs[4].tokenizer
    for row, text in zip(explain(model, frame, method)["rows"], frame["review"], strict=True):
        review = row["attributions"]["review"]
        assert review["tokens"] == tokenizer.encode(text).tokens
        assert len(review["scores"]) == len(review["tokens"])


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    write_images(folder / "pics", count=24, size=12).to_csv(folder / "images.csv", index=False)
    config = {
        "name": "images",
        "data": {"train": "images.csv", "split": {"validation": 0.0, "test": 0.0}},
        "inputs": [{"name": "image", "type": "image", "encoder": {"type": "cnn", "channels": [4]}}],
        "outputs": [{"name": "label", "type": "category"}],
        "trainer": {"epochs": 2, "batch_size": 8, "optimizer": {"type": "adam", "lr": 0.01}},
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return Model.from_config(folder / "config.yaml").fit(), folder


@pytest.mark.parametrize("method", ["integrated_gradients", "lime"])
def test_image_heatmap_has_the_image_size(image_run, method):
    model, folder = image_run
    found = explain(model, folder / "images.csv", method, rows=2)
    for row in found["rows"]:
        heatmap = row["attributions"]["image"]
        assert isinstance(heatmap, Heatmap)
        assert heatmap.values.shape == (12, 12) and heatmap.pixels.shape == (1, 12, 12)
        assert np.isfinite(heatmap.values).all() and np.abs(heatmap.values).sum() > 0
    if method == "integrated_gradients":  # IG at the normalised pixels is complete too
        row = found["rows"][0]
        change = row["value"] - row["baseline_value"]
        assert row["attributions"]["image"].values.sum() == pytest.approx(change, abs=0.02)


def test_image_patches_cover_every_pixel_with_contiguous_ids():
    part = Part("image", "image", ["image"], torch.nn.Identity())
    mask, count = feature_mask(part, torch.zeros(1, 3, 12, 10, dtype=torch.uint8), start=5)
    assert mask.shape == (1, 3, 12, 10)
    assert sorted(torch.unique(mask).tolist()) == list(range(5, 5 + count))


def test_bad_requests_are_plain_errors(x1_model, amount_model):
    frame = x1_table(5)
    with pytest.raises(UserError, match="unknown explain method 'magic'; known: ablation"):
        explain(x1_model, frame, "magic")
    with pytest.raises(UserError, match="--output 'price'.*label"):
        explain(x1_model, frame, output="price")
    with pytest.raises(UserError, match="--target 'maybe'.*'no', 'yes'"):
        explain(x1_model, frame, target="maybe")
    with pytest.raises(UserError, match="--target is for classification outputs"):
        explain(amount_model, frame, target="yes")
    with pytest.raises(UserError, match="--rows 0"):
        explain(x1_model, frame, rows=0)


@pytest.mark.parametrize("kind", ["tags", "text"])
def test_sequence_outputs_are_refused_by_their_tasks_capabilities(kind):
    from modelyard import Model
    from modelyard.config import validate

    config = {
        "inputs": [{"name": "tokens", "type": "text"}],
        "outputs": [{"name": "out", "type": kind}],
    }
    model = Model(validate(config))
    with pytest.raises(
        UserError,
        match=rf"^explain does not support this model's output 'out' \({kind}\) yet; "
        "it supports category, binary, number, mask outputs$",
    ):
        explain(model, x1_table(3))


def test_pretrained_text_is_attributed_at_the_backbone_embeddings(tmp_path):
    from tests.pretrained_fixtures import save_tiny_checkpoint

    checkpoint = save_tiny_checkpoint(tmp_path / "bert", "bert")
    config = tiny_config(epochs=1)
    config["data"] = {"split": {"validation": 0.0, "test": 0.0}}
    config["inputs"] = [
        {
            "name": "review",
            "type": "text",
            "encoder": {"type": "pretrained", "model": str(checkpoint)},
        }
    ]
    model = Model.from_config(config).fit(train=make_table(40))
    frame = make_table(2, seed=5)
    frame.loc[1, "review"] = "great"
    for row in explain(model, frame)["rows"]:
        review = row["attributions"]["review"]
        assert review["tokens"][0] == "[CLS]" and review["tokens"][-1] == "[SEP]"
        assert len(review["scores"]) == len(review["tokens"])
        change = row["value"] - row["baseline_value"]
        assert sum(review["scores"]) == pytest.approx(change, abs=0.01)
