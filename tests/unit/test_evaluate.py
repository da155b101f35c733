"""Metrics describe the predictions actually made (binary threshold), and bad settings fail early."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from modelyard import Model, UserError
from modelyard.config import validate
from tests.conftest import make_table, tiny_config, write_images


def _binary_config(threshold: float) -> dict:
    config = tiny_config(epochs=2)
    config["data"] = {"split": {"validation": 0.0, "test": 0.0}}
    config["outputs"] = [
        {"name": "label", "type": "binary", "positive": "yes", "threshold": threshold}
    ]
    return config


def test_binary_metrics_use_the_threshold_of_the_predictions():
    model = Model.from_config(_binary_config(0.9)).fit(train=make_table(120))
    frame = make_table(60, seed=9)
    predicted = model.predict(frame)["label_prediction"]
    assert model.evaluate(frame)["accuracy"] == pytest.approx((predicted == frame["label"]).mean())


def test_yaml_booleans_are_category_values():
    config = validate(
        {
            "inputs": [{"name": "a", "type": "number"}],
            "outputs": [{"name": "y", "type": "binary", "positive": True}],
        }
    )
    assert config.outputs[0].positive == "true"


def test_early_stopping_without_validation_rows_is_a_user_error():
    config = tiny_config(early_stopping={"metric": "loss", "patience": 2})
    config["data"] = {"split": {"column": "part"}}
    frame = make_table(40).assign(part="train")
    with pytest.raises(UserError, match="early_stopping needs validation rows"):
        Model.from_config(config).fit(train=frame)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_cuda_without_a_gpu_is_a_user_error():
    with pytest.raises(UserError, match="no CUDA GPU"):
        Model.from_config(tiny_config(epochs=1, device="cuda")).fit(train=make_table(40))


def _image_config(**encoder) -> dict:
    return {
        "data": {"split": {"validation": 0.0, "test": 0.0}},
        "inputs": [
            {
                "name": "image",
                "type": "image",
                "encoder": {"type": "cnn", "channels": [4], "output_size": 8, **encoder},
                "preprocessing": {"missing": "drop"},
            }
        ],
        "outputs": [{"name": "label", "type": "category"}],
        "trainer": {"epochs": 1, "batch_size": 8},
    }


def test_images_too_small_for_the_encoder_are_a_user_error(tmp_path):
    frame = write_images(tmp_path / "pics", count=8, size=4)
    frame["image"] = [str(tmp_path / p) for p in frame["image"]]
    with pytest.raises(UserError, match="too small for a cnn that halves them 3 times"):
        Model.from_config(_image_config(channels=[4, 4, 4])).fit(train=frame)


def test_predict_never_drops_rows_and_a_folder_of_files_is_named_by_path(tmp_path):
    frame = write_images(tmp_path / "pics", count=12)
    frame["image"] = [str(tmp_path / p) for p in frame["image"]]
    model = Model.from_config(_image_config()).fit(train=frame)
    with_gap = frame.assign(id=range(12))
    with_gap.loc[3, "image"] = None
    with pytest.raises(UserError, match="row 4: no image path"):
        model.predict(with_gap)
    predictions = model.predict(tmp_path / "pics")
    assert predictions.columns[0] == "image" and len(predictions) == 12
    assert sorted(predictions["image"]) == sorted(frame["image"])


def test_missing_id_column_at_predict_is_a_user_error():
    config = tiny_config(epochs=1)
    model = Model.from_config(config).fit(train=make_table(60))
    with pytest.raises(UserError, match="id column 'id'"):
        model.predict(make_table(5).drop(columns=["id"]))
    assert isinstance(model.predict(make_table(5)), pd.DataFrame)


class _Widths(torch.nn.Module):
    """{"t": (B, L) ids, "x": (B,)} -> {"y": (B, 2)}: each row's token count and x, and the
    batch's width (the longest row), to see how rows were batched."""

    def forward(self, batch):
        ids = batch["t"]
        real = (ids != 0).sum(dim=1)
        longest = real.max().expand_as(real)
        return {"y": torch.stack([real.float() + batch["x"], longest.float()], dim=1)}


def test_infer_batches_texts_of_similar_length_and_keeps_the_row_order():
    from modelyard.evaluate import infer

    lengths = [8, 1, 2, 8, 3, 1, 7, 2, 8, 1]
    ids = torch.zeros(10, 8, dtype=torch.long)
    for row, n in enumerate(lengths):
        ids[row, :n] = 5
    x = torch.arange(10.0) / 100
    out = infer(_Widths(), {"t": ids, "x": x}, torch.device("cpu"), False, batch_size=4)["y"]
    torch.testing.assert_close(out[:, 0], torch.tensor(lengths, dtype=torch.float32) + x)
    assert out[1, 1] == 1 and out[2, 1] == 2  # short rows did not pay for the long ones
    assert out[:, 1].tolist() == [8, 1, 2, 8, 3, 1, 8, 2, 8, 1]


def _noise_table(rows: int) -> pd.DataFrame:
    """Labels that have nothing to do with the inputs: the validation loss soon rises."""
    generator = torch.Generator().manual_seed(0)
    return pd.DataFrame(
        {
            "x1": torch.randn(rows, generator=generator).numpy(),
            "x2": torch.randn(rows, generator=generator).numpy(),
            "label": ["a", "b"] * (rows // 2),
        }
    )


def _noise_config(**trainer) -> dict:
    return {
        "data": {"split": {"validation": 0.3, "test": 0.0, "seed": 0}},
        "inputs": [{"name": "x1", "type": "number"}, {"name": "x2", "type": "number"}],
        "outputs": [{"name": "label", "type": "category"}],
        "combiner": {"type": "mlp", "hidden": [64]},
        "trainer": {"epochs": 40, "optimizer": {"type": "adam", "lr": 0.05}, **trainer},
        "baselines": False,
    }


def test_early_stopping_is_on_by_default_and_null_turns_it_off():
    stopped = Model.from_config(_noise_config()).fit(train=_noise_table(120))
    assert 6 <= len(stopped.history) < 40  # patience 5 on the validation loss
    full = Model.from_config(_noise_config(early_stopping=None)).fit(train=_noise_table(120))
    assert len(full.history) == 40
