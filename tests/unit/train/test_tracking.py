"""TensorBoard event files in the run directory: step losses, and per epoch the history's row."""

from __future__ import annotations

import pytest

from modelyard import Model
from modelyard.errors import ConfigError
from tests.conftest import make_table


def _config(**tracking) -> dict:
    return {
        "data": {"split": {"validation": 0.25, "test": 0.0}},
        "inputs": [{"name": "x1", "type": "number"}, {"name": "colour", "type": "category"}],
        "outputs": [{"name": "label", "type": "category"}],
        "trainer": {"epochs": 3, "batch_size": 8},
        "tracking": tracking,
    }


def _scalars(folder) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder)).Reload()
    return {
        tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]
    }


def test_a_run_writes_step_losses_and_each_epochs_metrics(tmp_path):
    model = Model.from_config(_config(every_steps=2))
    model.fit(train=make_table(64), output_dir=tmp_path / "run")  # 48 rows: 6 steps an epoch
    found = _scalars(tmp_path / "run" / "events")
    assert [step for step, _ in found["train/loss_step"]] == list(range(2, 19, 2))
    for tag in ("train/loss", "validation/loss", "validation/accuracy", "lr/all"):
        assert [step for step, _ in found[tag]] == [1, 2, 3], tag
    history = model.history
    assert [v for _, v in found["validation/accuracy"]] == pytest.approx(
        [row["validation_accuracy"] for row in history]
    )
    speed = found["speed/samples_per_second"][0][1]
    assert speed == pytest.approx(48 / history[0]["seconds"], rel=1e-3)


def test_tensorboard_off_writes_no_events(tmp_path):
    Model.from_config(_config(tensorboard=False)).fit(
        train=make_table(64), output_dir=tmp_path / "run"
    )
    assert not (tmp_path / "run" / "events").exists()
    assert (tmp_path / "run" / "history.csv").is_file()


def test_a_misspelt_tracking_key_is_named_with_a_suggestion():
    with pytest.raises(
        ConfigError, match=r"tracking\.every_step: unknown key; did you mean 'every_steps'\?"
    ):
        Model.from_config(_config(every_step=5))
