"""`build_model` from a validated config, the encoder registry against the schema, combiners, losses."""

from __future__ import annotations

import typing

import numpy as np
import pandas as pd
import pytest
import torch
from torch.nn import functional as F

from modelyard.config import schema, validate
from modelyard.data.features import Preprocessing
from modelyard.models import combiners
from modelyard.models.build import COMBINERS, ENCODERS, build_losses, build_model
from modelyard.models.encoders import tabular
from modelyard.models.heads import make_loss
from modelyard.models.model import STACKED

N = 12
TEXTS = ["the cat sat", "a dog ran far", "cats and dogs", "the end", "red fox", "a b c d e f"]


def _frame(tmp_path) -> pd.DataFrame:
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(N):
        path = tmp_path / f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return pd.DataFrame(
        {
            "x": rng.normal(size=N),
            "y": rng.normal(size=N),
            "color": ["red", "green", "blue"] * (N // 3),
            "flag": ["yes", "no"] * (N // 2),
            "text": [TEXTS[i % len(TEXTS)] for i in range(N)],
            "image": paths,
            "label": ["a", "b", "c", "d"] * (N // 4),
            "target": ["t", "f", "f"] * (N // 3),
            "value": rng.normal(size=N),
        }
    )


def _config(text_encoder: dict, image_encoder: dict, combiner: dict):
    return validate(
        {
            "inputs": [
                {"name": "x", "type": "number"},
                {"name": "color", "type": "category", "encoder": {"type": "embed", "dim": 3}},
                {
                    "name": "color_1h",
                    "column": "color",
                    "type": "category",
                    "encoder": {"type": "onehot"},
                },
                {"name": "flag", "type": "binary"},
                {"name": "y", "type": "number"},
                {
                    "name": "text",
                    "type": "text",
                    "encoder": text_encoder,
                    "preprocessing": {
                        "tokenizer": "whitespace",
                        "min_frequency": 1,
                        "max_length": 4,
                    },
                },
                {
                    "name": "image",
                    "type": "image",
                    "encoder": image_encoder,
                    "preprocessing": {"height": 4, "width": 4},
                },
            ],
            "outputs": [
                {"name": "label", "type": "category"},
                {"name": "target", "type": "binary"},
                {"name": "value", "type": "number"},
            ],
            "combiner": combiner,
        }
    )


TEXT_ENCODERS = [
    {"type": "mlp", "embedding_dim": 4, "hidden": [3]},
    {"type": "cnn", "embedding_dim": 4, "filters": 2, "kernel_sizes": [2, 3]},
    {"type": "rnn", "embedding_dim": 4, "hidden": 3, "pooling": "last"},
    {
        "type": "transformer",
        "dim": 4,
        "layers": 1,
        "heads": 2,
        "ff_multiplier": 1,
        "pooling": "cls",
    },
]
IMAGE_ENCODERS = [
    {"type": "cnn", "channels": [2], "output_size": 3},
    {"type": "resnet", "channels": [2, 3], "blocks": [1, 1]},
    {"type": "mlp", "hidden": [3]},
]


@pytest.fixture(scope="module")
def frame(tmp_path_factory) -> pd.DataFrame:
    return _frame(tmp_path_factory.mktemp("images"))


@pytest.mark.parametrize(
    ("text", "image", "combiner"),
    [
        (t, IMAGE_ENCODERS[i % 3], [{"type": "mlp", "hidden": [5]}, {"type": "concat"}][i % 2])
        for i, t in enumerate(TEXT_ENCODERS)
    ],
    ids=lambda v: v.get("type") if isinstance(v, dict) else None,
)
def test_build_model_gives_one_prediction_per_row_and_output(frame, text, image, combiner) -> None:
    config = _config(text, image, combiner)
    preprocessing = Preprocessing(config)
    preprocessing.fit(frame)
    table = preprocessing.prepare(frame, "train")
    torch.manual_seed(0)
    model = build_model(config, preprocessing)
    out = model(model.pack(table.tensors))
    assert set(out) == {"label", "target", "value"}
    assert out["label"].shape == (N, 4)  # one logit per class
    assert out["target"].shape == (N,)
    assert out["value"].shape == (N,)
    # 3 passthrough columns stacked, embed dim 3, one-hot over 3 colours + unknown, then text, image
    assert [e.output_size for e in model.encoders[:3]] == [3, 3, 4]
    concat = sum(e.output_size for e in model.encoders)
    assert model.combiner.output_size == (5 if combiner["type"] == "mlp" else concat)
    losses = build_losses(config)
    total = sum(w * loss(out[name], table.tensors[name]) for name, (w, loss) in losses.items())
    total.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_passthrough_inputs_are_stacked_in_config_order(frame) -> None:
    config = _config(TEXT_ENCODERS[0], IMAGE_ENCODERS[2], {"type": "concat"})
    preprocessing = Preprocessing(config)
    preprocessing.fit(frame)
    table = preprocessing.prepare(frame, "train")
    model = build_model(config, preprocessing)
    packed = model.pack(table.tensors)
    stacked = [v for k, v in packed.items() if k not in table.tensors]
    assert len(stacked) == 1
    expected = torch.stack(
        [table.tensors["x"], table.tensors["flag"].float(), table.tensors["y"]], dim=1
    )
    assert torch.equal(stacked[0], expected)


def _schema_tags(annotation) -> set[str]:
    """The `type` Literal tags of every encoder model inside an (annotated, union) annotation."""
    if isinstance(annotation, type) and issubclass(annotation, schema.Strict):
        return set(typing.get_args(annotation.model_fields["type"].annotation))
    return {tag for arg in typing.get_args(annotation) for tag in _schema_tags(arg)}


def test_encoder_registry_matches_schema() -> None:
    from_schema = {
        f"{feature}.{tag}"
        for feature, model in schema.FEATURE_MODELS.items()
        for tag in _schema_tags(model.model_fields["encoder"].annotation)
    }
    assert len(from_schema) >= 11  # the walk found the unions
    assert set(ENCODERS.names()) == from_schema


def test_combiner_registry_matches_schema() -> None:
    assert set(COMBINERS.names()) == _schema_tags(schema.Combiner)


def test_combiners() -> None:
    encoded = [torch.randn(3, 2), torch.randn(3, 4)]
    concat = combiners.Concat(6)
    assert torch.equal(concat(encoded), torch.cat(encoded, dim=1))
    assert torch.equal(concat(encoded[:1]), encoded[0])
    torch.manual_seed(0)
    mlp = combiners.MlpCombiner(6, [5, 3], "gelu", 0.0, True)
    assert mlp.output_size == 3
    assert mlp(encoded).shape == (3, 3)
    assert combiners.MlpCombiner(6, [], "relu", 0.0, False).output_size == 6


def test_cross_entropy_matches_reference() -> None:
    torch.manual_seed(0)
    logits, target = torch.randn(5, 4), torch.tensor([0, 3, 1, 1, 2])
    log_p = logits.log_softmax(dim=1)
    plain = -log_p[torch.arange(5), target].mean()
    torch.testing.assert_close(make_loss("cross_entropy")(logits, target), plain)
    smoothed = (0.9 * -log_p[torch.arange(5), target] + 0.1 * -log_p.mean(dim=1)).mean()
    torch.testing.assert_close(make_loss("cross_entropy", 0.1)(logits, target), smoothed)
    torch.testing.assert_close(
        make_loss("cross_entropy", 0.1)(logits, target),
        F.cross_entropy(logits, target, label_smoothing=0.1),
    )


def test_regression_and_binary_losses_match_reference() -> None:
    torch.manual_seed(0)
    pred, target = 3 * torch.randn(8), torch.randn(8)
    p = torch.sigmoid(pred)
    labels = (target > 0).float()
    err = pred - target
    expected = {
        "binary_cross_entropy": (-(labels * p.log() + (1 - labels) * (1 - p).log())).mean(),
        "mse": (err**2).mean(),
        "mae": err.abs().mean(),
        "huber": torch.where(err.abs() < 1, 0.5 * err**2, err.abs() - 0.5).mean(),
    }
    for name, value in expected.items():
        y = labels if name == "binary_cross_entropy" else target
        torch.testing.assert_close(make_loss(name)(pred, y), value, msg=name)


def test_losses_are_float32_for_bf16_predictions() -> None:
    logits = torch.randn(4, 3).bfloat16()
    assert make_loss("cross_entropy")(logits, torch.tensor([0, 1, 2, 0])).dtype == torch.float32
    assert make_loss("mse")(torch.randn(4).bfloat16(), torch.randn(4)).dtype == torch.float32


def test_build_losses_uses_weights_and_smoothing() -> None:
    config = validate(
        {
            "inputs": [{"name": "x", "type": "number"}],
            "outputs": [
                {"name": "c", "type": "category", "label_smoothing": 0.2, "weight": 2.0},
                {"name": "v", "type": "number", "loss": "mae"},
            ],
        }
    )
    losses = build_losses(config)
    logits, target = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    assert losses["c"][0] == 2.0
    torch.testing.assert_close(
        losses["c"][1](logits, target), F.cross_entropy(logits, target, label_smoothing=0.2)
    )
    assert losses["v"][0] == 1.0


def test_with_several_outputs_each_loss_skips_rows_without_its_label() -> None:
    config = validate(
        {
            "inputs": [{"name": "x", "type": "number"}],
            "outputs": [
                {"name": "c", "type": "category"},
                {"name": "v", "type": "number"},
                {"name": "b", "type": "binary"},
            ],
        }
    )
    losses = build_losses(config)
    logits, values = torch.randn(4, 3), torch.randn(4)
    labels = torch.tensor([0, -100, 2, 1])  # -100: no label
    torch.testing.assert_close(
        losses["c"][1](logits, labels), F.cross_entropy(logits[[0, 2, 3]], labels[[0, 2, 3]])
    )
    numbers = torch.tensor([1.0, float("nan"), 2.0, float("nan")])
    torch.testing.assert_close(
        losses["v"][1](values, numbers), F.mse_loss(values[[0, 2]], numbers[[0, 2]])
    )
    flags = torch.tensor([1.0, 0.0, float("nan"), 1.0])
    expected = F.binary_cross_entropy_with_logits(values[[0, 1, 3]], flags[[0, 1, 3]])
    torch.testing.assert_close(losses["b"][1](values, flags), expected)
    nothing = losses["v"][1](values.requires_grad_(), torch.full((4,), float("nan")))
    assert nothing.item() == 0.0  # a batch without any label: 0, not NaN
    nothing.backward()


def _audio_preprocessing(tmp_path, encoder: dict, outputs: list[dict]) -> tuple:
    import soundfile as sf

    rng = np.random.default_rng(0)
    paths = []
    for i in range(4):
        paths.append(str(tmp_path / f"clip{i}.wav"))
        sf.write(paths[-1], rng.normal(scale=0.1, size=1600).astype(np.float32), 8000)
    config = validate(
        {
            "inputs": [
                {
                    "name": "clip",
                    "type": "audio",
                    "encoder": encoder,
                    "preprocessing": {"sample_rate": 8000, "n_mels": 8},
                }
            ],
            "outputs": outputs,
        }
    )
    prep = Preprocessing(config)
    frame = pd.DataFrame({"clip": paths, "label": ["a", "b"] * 2, "text": ["ab", "b a"] * 2})
    prep.fit(frame)
    return prep, prep.prepare(frame, "train")


def test_audio_classifier_and_ctc_models(tmp_path) -> None:
    from modelyard.tasks.speech import CtcLoss, SpeechToText

    category = [{"name": "label", "type": "category"}]
    prep, table = _audio_preprocessing(tmp_path, {"type": "cnn", "channels": [4]}, category)
    model = build_model(prep.config, prep)
    assert model(model.pack(table.tensors))["label"].shape == (4, 2)
    text = [{"name": "text", "type": "text", "decoder": {"type": "ctc"}}]
    prep, table = _audio_preprocessing(tmp_path, {"type": "transformer", "dim": 8}, text)
    model = build_model(prep.config, prep)
    assert isinstance(model, SpeechToText) and isinstance(
        build_losses(prep.config)["text"][1], CtcLoss
    )
    log_probs = model(model.pack(table.tensors))["text"]  # (4, 21 frames / 4, vocabulary)
    assert log_probs.shape == (4, 6, prep.outputs[0].vocab_size)


def test_spectrograms_too_small_for_the_cnn_are_a_user_error(tmp_path) -> None:
    from modelyard.errors import UserError

    category = [{"name": "label", "type": "category"}]
    prep, _ = _audio_preprocessing(tmp_path, {"type": "cnn", "channels": [4, 4, 4, 4]}, category)
    with pytest.raises(UserError, match="8 mel bands x 21 frames are too small for a cnn"):
        build_model(prep.config, prep)


def test_class_weights_weigh_cross_entropy_by_each_rows_class() -> None:
    loss = make_loss("cross_entropy", class_weights=[1.0, 3.0, 0.5])
    logits, target = torch.randn(5, 3), torch.tensor([0, 1, 2, 1, 0])
    each = F.cross_entropy(logits, target, reduction="none")
    weight = torch.tensor([1.0, 3.0, 0.5])[target]
    torch.testing.assert_close(loss(logits, target), (weight * each).mean())
    # two halves of a batch average to the whole batch's loss (processes sharing a batch)
    halves = (loss(logits[:2], target[:2]) * 2 + loss(logits[2:], target[2:]) * 3) / 5
    torch.testing.assert_close(halves, loss(logits, target))


def test_class_weights_weigh_binary_cross_entropy_by_each_rows_class() -> None:
    loss = make_loss("binary_cross_entropy", class_weights=[0.5, 4.0])
    logits, target = torch.randn(6), torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0, 0.0])
    each = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    weight = 0.5 + 3.5 * target
    torch.testing.assert_close(loss(logits, target), (weight * each).mean())


def test_build_losses_takes_the_class_weights_fitted_on_training_labels() -> None:
    config = validate(
        {
            "inputs": [{"name": "x", "type": "number"}],
            "outputs": [{"name": "b", "type": "binary", "class_weights": {"yes": 9}}],
        }
    )
    prep = Preprocessing(config)
    prep.fit(pd.DataFrame({"x": [1.0, 2.0, 3.0], "b": ["no", "yes", "no"]}))
    logits, target = torch.randn(3), torch.tensor([0.0, 1.0, 1.0])
    weighted, plain = build_losses(config, prep)["b"][1], build_losses(config)["b"][1]
    expected = make_loss("binary_cross_entropy", class_weights=[1.0, 9.0])(logits, target)
    torch.testing.assert_close(weighted(logits, target), expected)
    assert not torch.allclose(plain(logits, target), expected)


def _numbers_model(rows: int, encoder: dict | None = None):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "z": rng.normal(size=rows),
            "label": ["a", "b"] * (rows // 2) + ["a"] * (rows % 2),
        }
    )
    x = {"name": "x", "type": "number"} | ({"encoder": encoder} if encoder else {})
    config = validate(
        {
            "inputs": [x, {"name": "z", "type": "number", "encoder": {"type": "passthrough"}}],
            "outputs": [{"name": "label", "type": "category"}],
        }
    )
    preprocessing = Preprocessing(config)
    preprocessing.fit(frame)
    return build_model(config, preprocessing), preprocessing.prepare(frame, "train")


def test_auto_number_encoder_is_periodic_from_enough_training_values(monkeypatch) -> None:
    from modelyard.config.schema import encoders

    monkeypatch.setattr(encoders, "PERIODIC_ROWS", 40)
    few, _ = _numbers_model(39)
    assert few.input_names == [STACKED]  # x and z both stacked: passthrough
    many, table = _numbers_model(40)
    assert many.input_names == [STACKED, "x"]
    periodic = many.encoders[1]
    assert isinstance(periodic, tabular.PeriodicNumber) and periodic.output_size == 16
    assert many(many.pack(table.tensors))["label"].shape[0] == 40


def test_periodic_number_encoder_settings_and_shapes() -> None:
    model, table = _numbers_model(12, {"type": "periodic", "frequencies": 3, "dim": 5, "sigma": 2})
    periodic = model.encoders[1]
    assert periodic.coefficients.shape == (3,) and periodic.linear.in_features == 6
    out = periodic(table.tensors["x"])
    assert out.shape == (12, 5) and (out >= 0).all()
    # sin/cos of 2 pi c x: the layer sees exactly these features
    x = table.tensors["x"][:2]
    angles = 2 * torch.pi * x[:, None] * periodic.coefficients
    expected = torch.relu(periodic.linear(torch.cat([angles.sin(), angles.cos()], -1)))
    assert torch.allclose(periodic(x), expected)
