"""The object-detection config: defaults, and the cross-field checks (every problem at once)."""

from __future__ import annotations

import pytest

from modelyard.config.load import validate
from modelyard.errors import UserError


def test_defaults_fill_in():
    config = validate({"task": "object_detection", "data": {"train": "boxes.csv"}})
    assert config.model.neck.stride == 4 and config.trainer.early_stopping.metric == "map_50"
    assert config.data.columns.x2 == "x2" and config.detections.top_k == 100


def test_checks_report_every_problem_with_what_to_change():
    raw = {
        "task": "object_detection",
        "data": {"train": "boxes.csv"},
        "model": {"encoder": {"type": "resnet", "channels": [8, 16], "blocks": [1]}},
        "trainer": {"early_stopping": {"metric": "accuracy"}},
    }
    with pytest.raises(UserError) as error:
        validate(raw)
    text = str(error.value)
    assert "2 stages reach stride 2, but model.neck.stride is 4" in text
    assert "model.encoder.blocks: 1 entries for 2 channels stages" in text
    assert "object detection measures loss, map_50, map, not 'accuracy'" in text


def test_a_misspelled_key_is_refused():
    with pytest.raises(UserError, match="agument"):
        validate({"task": "object_detection", "data": {"train": "b.csv"}, "agument": {}})
