"""The one test that loads the real all-MiniLM-L6-v2 (from the PyPI package, offline)."""

from __future__ import annotations

import pandas as pd
import pytest

from modelyard import Model
from tests.conftest import make_table

pytestmark = pytest.mark.integration


def test_minilm_fine_tunes_with_lora_and_reloads(tmp_path):
    config = {
        "data": {"split": {"validation": 0.25, "test": 0.0}},
        "inputs": [
            {
                "name": "review",
                "type": "text",
                "encoder": {"type": "pretrained", "model": "minilm", "lora": {"rank": 4}},
                "preprocessing": {"max_length": 16},
            }
        ],
        "outputs": [{"name": "label", "type": "category"}],
        "combiner": {"type": "concat"},
        "trainer": {
            "epochs": 2,
            "batch_size": 16,
            "optimizer": {"type": "adamw", "lr": 0.003},
            "precision": "auto",
        },
    }
    model = Model.from_config(config).fit(train=make_table(64), output_dir=tmp_path / "run")
    backbone = model.module.encoders[0].backbone
    assert backbone.config.hidden_size == 384 and backbone.config.num_hidden_layers == 6
    assert (
        model.metrics["validation"]["accuracy"] >= 0.75
    )  # positive vs negative words: easy for MiniLM
    frame = make_table(10, seed=3)
    pd.testing.assert_frame_equal(Model.load(tmp_path / "run").predict(frame), model.predict(frame))
