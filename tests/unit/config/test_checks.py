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
    found = checks.outputs_fit_their_tasks(
        config(outputs=[{"name": "label", "type": "category", "loss": "mse"}])
    )
    assert found == [
        "outputs[0].loss: output 'label' is category but loss is mse: use cross_entropy, or make the output number"
    ]


def test_number_output_with_a_classification_loss():
    found = checks.outputs_fit_their_tasks(
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
        checks.outputs_fit_their_tasks(config(outputs=[{"name": "y", "type": kind, "loss": loss}]))
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
    raw = config(data={"split": {"validation": 0}}, trainer={"early_stopping": {"patience": 3}})
    assert checks.plateau_needs_validation(raw) == [
        "trainer.early_stopping: needs a validation split; set data.split.validation or data.validation"
    ]


def test_default_early_stopping_asks_for_no_validation_data():
    raw = config(data={"split": {"validation": 0}})
    assert raw.trainer.early_stopping is not None  # on by default ...
    assert checks.plateau_needs_validation(raw) == []  # ... and quiet without validation data


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


def _tags_config(inputs=None, outputs=None) -> Config:
    text = {"name": "tokens", "type": "text", "encoder": {"type": "rnn"}}
    return config(inputs=inputs or [text], outputs=outputs or [{"name": "ner", "type": "tags"}])


def test_a_tags_output_over_one_text_input_passes():
    found = checks.run_all(_tags_config())
    assert found == []
    assert checks.metric_names(_tags_config()) == [
        "f1_entity",
        "precision_entity",
        "recall_entity",
        "accuracy",
    ]


def test_tags_output_needs_exactly_one_text_input():
    text = {"name": "tokens", "type": "text"}
    found = checks.outputs_fit_their_tasks(
        _tags_config(inputs=[text, {"name": "x", "type": "number"}])
    )
    assert found == [
        "inputs: a tags output tags the tokens of exactly one text input, but the inputs are "
        "tokens (text), x (number); keep only the text input that holds the tokens"
    ]


def test_tags_output_needs_a_per_token_encoder_and_only_tags_outputs():
    found = checks.run_all(
        _tags_config(
            inputs=[{"name": "tokens", "type": "text", "encoder": {"type": "mlp"}}],
            outputs=[{"name": "ner", "type": "tags"}, {"name": "label", "type": "category"}],
        )
    )
    assert found == [
        "inputs[0].encoder: mlp pools the text away, but a tags output needs a state per token; "
        "use rnn, transformer, cnn or pretrained",
        "outputs: a model with a tags output can have only tags outputs, but label (category) "
        "is not; train it as a separate model",
    ]


def test_no_output_of_another_type_shares_a_model_a_task_builds_itself():
    """The rule holds for every task with its own model (a plugin's too), not per task."""
    from modelyard.tasks import registered

    own = [t.type for t in registered() if t.own_model]
    assert own == ["tags", "text", "summary", "mask"]
    for kind in own:
        needs = {"classes": ["thing"]} if kind == "mask" else {}
        found = checks.own_model_outputs_alone(
            config(
                inputs=[{"name": "tokens", "type": "text"}],
                outputs=[{"name": "o", "type": kind, **needs}, {"name": "a", "type": "number"}],
            )
        )
        assert found == [
            f"outputs: a model with a {kind} output can have only {kind} outputs, but a (number) "
            "is not; train it as a separate model"
        ]
    assert checks.own_model_outputs_alone(config()) == []


def test_early_stopping_on_entity_f1_of_a_tags_output_is_known():
    parsed = _tags_config()
    stopping = {"metric": "f1_entity"}
    raw = parsed.model_dump() | {"trainer": {"early_stopping": stopping}}
    assert checks.early_stopping_metric_exists(Config.model_validate(raw)) == []


@pytest.mark.parametrize("input_tokenizer", ["bpe", "wordpiece"])
def test_shared_target_tokenizer_needs_one_that_gives_back_spaces(input_tokenizer):
    found = checks.outputs_fit_their_tasks(
        config(
            inputs=[
                {"name": "en", "type": "text", "preprocessing": {"tokenizer": input_tokenizer}}
            ],
            outputs=[{"name": "es", "type": "text", "preprocessing": {"tokenizer": "shared"}}],
        )
    )
    if input_tokenizer == "bpe":
        assert len(found) == 1 and "use tokenizer: bpe for the output" in found[0]
    else:
        assert found == []


def _image_config(**preprocessing) -> Config:
    return config(inputs=[{"name": "photo", "type": "image", "preprocessing": preprocessing}])


def test_random_crop_must_leave_most_of_a_known_image_size():
    problems = checks.image_crop_fits(
        _image_config(height=28, width=32, augment={"random_crop": 20})
    )
    assert problems == [
        "inputs[0].preprocessing.augment.random_crop: 20 pixels of padding is too much for "
        "28x32 images (a crop could keep less than half of the image); use at most 13"
    ]
    assert (
        checks.image_crop_fits(_image_config(height=28, width=32, augment={"random_crop": 13}))
        == []
    )
    assert (
        checks.image_crop_fits(_image_config(augment={"random_crop": 20})) == []
    )  # size unknown yet


def _pretrained_config(tmp_path, freeze, **settings):
    """A config.yaml whose pretrained encoder points at a checkpoint with only a config.json."""
    import json

    import yaml

    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt/config.json").write_text(json.dumps(settings))
    raw = {
        "inputs": [
            {
                "name": "t",
                "type": "text",
                "encoder": {"type": "pretrained", "model": "ckpt", "freeze": freeze},
            }
        ],
        "outputs": [{"name": "label", "type": "category"}],
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    return tmp_path / "c.yaml"


@pytest.mark.parametrize("key", ["num_hidden_layers", "n_layer", "n_layers"])
def test_freeze_larger_than_the_checkpoints_layers_is_refused_from_its_config_json(tmp_path, key):
    from modelyard.config import load_config

    with pytest.raises(ConfigError) as caught:
        load_config(_pretrained_config(tmp_path, 8, **{key: 6}))  # no weights file exists at all
    assert "inputs[0].encoder.freeze: 8 layers asked for, but 'ckpt' has 6; use at most 6" in str(
        caught.value
    )


def test_freeze_within_the_layers_passes(tmp_path):
    from modelyard.config import load_config

    config, _ = load_config(_pretrained_config(tmp_path, 6, num_hidden_layers=6))
    assert config.inputs[0].encoder.freeze == 6


def test_freeze_from_set_names_the_set_argument(tmp_path):
    from modelyard.config import load_config

    with pytest.raises(
        ConfigError, match=r"--set inputs\.0\.encoder\.freeze=9: 9 layers asked for"
    ):
        load_config(_pretrained_config(tmp_path, 2, n_layer=6), ["inputs.0.encoder.freeze=9"])


def test_every_metric_early_stopping_accepts_declares_its_direction():
    from modelyard.config.schema import CtcDecoder
    from modelyard.metrics import directions
    from modelyard.tasks import registered

    produced = set(checks.LM_METRICS)
    for task in registered():
        output = task.schema(name="y", type=task.type)
        produced.update(task.metric_names(output))
    text = next(t for t in registered() if t.type == "text")
    produced.update(text.metric_names(text.schema(name="y", type="text", decoder=CtcDecoder())))
    assert {"f1_entity", "bleu", "wer", "r2", "roc_auc"} <= produced
    assert produced - set(directions()) == set()


def test_l1_with_a_sharded_model():
    found = checks.strategy_settings_fit(config(trainer={"strategy": "fsdp", "l1": 0.01}))
    assert found == [
        "trainer.l1: the L1 penalty is not available with trainer.strategy fsdp (each process "
        "holds only a shard of the weights); remove it, use trainer.optimizer.weight_decay, or "
        "strategy: ddp"
    ]
    assert checks.strategy_settings_fit(config(trainer={"l1": 0.01})) == []


def test_fairness_settings_that_cannot_apply():
    binary = [{"name": "label", "type": "binary"}]
    assert checks.fairness_fits(config(evaluation={"sensitive": ["sex"]})) == []
    assert checks.fairness_fits(config(outputs=binary, evaluation={"sensitive": ["label"]})) == [
        "evaluation.sensitive: 'label' is output 'label''s label; name a column that groups "
        "the rows (e.g. sex)"
    ]
    unsplit = config(
        outputs=binary,
        data={"split": {"validation": None, "test": 0.2}},
        evaluation={"sensitive": ["sex"], "mitigation": {}},
    )
    assert checks.fairness_fits(unsplit) == [
        "evaluation.mitigation is fitted on validation rows (never test); set "
        "data.split.validation or data.validation"
    ]
