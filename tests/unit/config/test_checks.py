"""Cross-field checks: each is run on a config that breaks exactly its rule."""

from __future__ import annotations

import pytest

from modelyard.config import checks, validate
from modelyard.config.schema import Config
from modelyard.errors import ConfigError


def config(**extra) -> Config:
    """A valid config, built without the checks so each check can be called on its own."""
    raw = {
        "inputs": [{"name": "x", "type": "number"}],
        "outputs": [{"name": "label", "type": "category"}],
    }
    return Config.model_validate(raw | extra)


def test_a_valid_config_passes_every_check():
    assert checks.run_all(config()) == []


def test_loss_that_does_not_fit_the_output_type():
    found = checks.loss_matches_output(
        config(outputs=[{"name": "label", "type": "category", "loss": "mse"}])
    )
    assert found == [
        "outputs[0].loss: output 'label' is category but loss is mse: use cross_entropy, or make the output number"
    ]


def test_number_output_with_a_classification_loss():
    found = checks.loss_matches_output(
        config(outputs=[{"name": "price", "type": "number", "loss": "cross_entropy"}])
    )
    assert found == [
        "outputs[0].loss: output 'price' is number but loss is cross_entropy: "
        "use mse or mae or huber, or make the output category"
    ]


@pytest.mark.parametrize(
    ("kind", "loss"),
    [("category", "cross_entropy"), ("binary", "binary_cross_entropy"), ("number", "huber")],
)
def test_matching_losses_pass(kind, loss):
    assert (
        checks.loss_matches_output(config(outputs=[{"name": "y", "type": kind, "loss": loss}]))
        == []
    )


def test_duplicate_names_across_inputs_and_outputs():
    found = checks.names_are_unique(
        config(
            inputs=[{"name": "x", "type": "number"}, {"name": "x", "type": "category"}],
            outputs=[{"name": "x", "type": "binary"}],
        )
    )
    assert found == [
        "inputs[1].name: 'x' is already used by inputs[0]; names must be unique",
        "outputs[0].name: 'x' is already used by inputs[0]; names must be unique",
    ]


def test_split_that_leaves_too_little_training_data():
    found = checks.split_leaves_training_data(
        config(data={"split": {"validation": 0.5, "test": 0.5}})
    )
    assert found == [
        "data.split: validation + test = 1 leaves too little to train on; keep it under 0.95"
    ]


def test_split_ratios_do_not_count_when_files_are_given():
    raw = {"validation": "v.csv", "test": "t.csv", "split": {"validation": 0.5, "test": 0.5}}
    assert checks.split_leaves_training_data(config(data=raw)) == []


def test_split_ratios_do_not_count_with_a_split_column():
    raw = {"split": {"validation": 0.5, "test": 0.5, "column": "fold"}}
    assert checks.split_leaves_training_data(config(data=raw)) == []


def test_unknown_early_stopping_metric_lists_the_known_ones():
    found = checks.early_stopping_metric_exists(
        config(trainer={"early_stopping": {"metric": "acc"}})
    )
    assert found == [
        "trainer.early_stopping.metric: 'acc' is not a validation metric of this model; "
        "known: loss, accuracy, precision_macro, recall_macro, f1_macro, roc_auc, log_loss"
    ]


def test_early_stopping_metrics_are_prefixed_with_several_outputs():
    outputs = [{"name": "kind", "type": "category"}, {"name": "price", "type": "number"}]
    assert checks.early_stopping_metric_exists(
        config(outputs=outputs, trainer={"early_stopping": {"metric": "accuracy"}})
    )
    good = config(outputs=outputs, trainer={"early_stopping": {"metric": "price.rmse"}})
    assert checks.early_stopping_metric_exists(good) == []


def test_plateau_schedule_needs_validation_data():
    raw = config(data={"split": {"validation": 0}}, trainer={"schedule": {"type": "plateau"}})
    assert checks.plateau_needs_validation(raw) == [
        "trainer.schedule.type: plateau needs a validation split; set data.split.validation or data.validation"
    ]


def test_early_stopping_needs_validation_data():
    raw = config(data={"split": {"validation": 0}}, trainer={"early_stopping": {}})
    assert checks.plateau_needs_validation(raw) == [
        "trainer.early_stopping: needs a validation split; set data.split.validation or data.validation"
    ]


@pytest.mark.parametrize(
    "data",
    [
        {"validation": "v.csv", "split": {"validation": 0}},
        {"split": {"validation": 0, "column": "fold"}},
    ],
)
def test_validation_file_or_split_column_counts_as_validation(data):
    raw = config(data=data, trainer={"schedule": {"type": "plateau"}, "early_stopping": {}})
    assert checks.plateau_needs_validation(raw) == []


def test_validate_runs_the_checks_and_reports_them_together():
    raw = {
        "inputs": [{"name": "x", "type": "number"}],
        "outputs": [{"name": "x", "type": "category", "loss": "mae"}],
    }
    with pytest.raises(ConfigError) as info:
        validate(raw)
    assert [p.split(":")[0] for p in info.value.problems] == ["outputs[0].loss", "outputs[0].name"]


def test_nesterov_without_momentum_is_reported() -> None:
    from modelyard.config import validate
    from modelyard.errors import ConfigError

    raw = {
        "inputs": [{"name": "a", "type": "number"}],
        "outputs": [{"name": "y", "type": "number"}],
        "trainer": {"optimizer": {"type": "sgd", "nesterov": True}},
    }
    with pytest.raises(ConfigError, match="nesterov needs momentum > 0"):
        validate(raw)


def test_encoder_shape_rules() -> None:
    from modelyard.config import validate
    from modelyard.errors import ConfigError

    raw = {
        "inputs": [
            {
                "name": "t",
                "type": "text",
                "encoder": {"type": "transformer", "dim": 30, "heads": 4},
            },
            {
                "name": "i",
                "type": "image",
                "encoder": {"type": "resnet", "channels": [8, 16], "blocks": [1]},
            },
        ],
        "outputs": [{"name": "y", "type": "number"}],
    }
    with pytest.raises(ConfigError) as info:
        validate(raw)
    assert info.value.problems == [
        "inputs[0].encoder: dim 30 is not divisible by heads 4; change one of them",
        "inputs[1].encoder: channels has 2 stages but blocks has 1; give both the same length",
    ]
