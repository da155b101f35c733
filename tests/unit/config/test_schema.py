"""The schema: defaults, unknown keys, wrong types, unknown component types, JSON Schema export."""

from __future__ import annotations

import json

import pytest

from modelyard.config import validate
from modelyard.config.schema import Config, TextBow, TextCnn
from modelyard.errors import ConfigError


def minimal(**extra) -> dict:
    raw = {
        "data": {"train": "train.csv"},
        "inputs": [{"name": "review", "type": "text"}],
        "outputs": [{"name": "label", "type": "category"}],
    }
    return raw | extra


def problems(raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        validate(raw)
    return info.value.problems


def test_minimal_config_validates_with_defaults_filled():
    config = validate(minimal())
    assert config.name == "run"
    assert config.inputs[0].encoder == TextBow()
    assert config.inputs[0].preprocessing.tokenizer == "bpe"
    assert config.outputs[0].loss == "cross_entropy"
    assert config.combiner.type == "mlp"
    assert config.trainer.optimizer.type == "adam"
    assert config.trainer.epochs == 100
    assert config.trainer.early_stopping.metric == "loss"
    assert config.trainer.early_stopping.patience == 5
    assert config.data.split.validation == 0.15


def test_config_is_frozen():
    config = validate(minimal())
    with pytest.raises(Exception, match="frozen"):
        config.name = "other"


def test_every_error_is_reported_at_once():
    raw = minimal(
        combiner={"hiden": [8]},
        trainer={"epochs": "many", "precision": "bf15", "optimizer": {"lr": -1}},
    )
    found = problems(raw)
    assert len(found) == 4
    assert [p.split(":")[0] for p in found] == [
        "combiner.hiden",
        "trainer.epochs",
        "trainer.optimizer.lr",
        "trainer.precision",
    ]


def test_error_message_counts_the_problems():
    with pytest.raises(ConfigError, match=r"^cfg.yaml: 2 problems:\n  "):
        validate(minimal(trainre={}, combinr={}), source="cfg.yaml")


def test_unknown_key_suggests_the_key_of_the_chosen_encoder():
    raw = minimal()
    raw["inputs"][0]["encoder"] = {"type": "transformer", "laers": 3}
    assert problems(raw) == ["inputs[0].encoder.laers: unknown key; did you mean 'layers'?"]


def test_unknown_key_without_close_match_lists_allowed_keys():
    raw = minimal()
    raw["inputs"][0]["encoder"] = {"type": "rnn", "zzz": 1}
    [problem] = problems(raw)
    assert problem.startswith("inputs[0].encoder.zzz: unknown key (allowed: ")
    assert "bidirectional" in problem and "cell" in problem


def test_unknown_top_level_key_is_an_error_not_ignored():
    assert problems(minimal(trainre={"epochs": 1})) == [
        "trainre: unknown key; did you mean 'trainer'?"
    ]


def test_wrong_value_type_names_the_path_and_the_value():
    raw = minimal(trainer={"epochs": "many"})
    [problem] = problems(raw)
    assert problem.startswith("trainer.epochs: Input should be a valid integer")
    assert "'many'" in problem


def test_value_failing_a_union_is_one_problem_at_the_users_path():
    # batch_size is `int | 'full'`: pydantic reports one error per member, labelled by member
    [problem] = problems(minimal(trainer={"batch_size": "big"}))
    assert problem.startswith("trainer.batch_size: ")
    assert "constrained-int" not in problem and "literal" not in problem
    assert "valid integer" in problem and "'full'" in problem


def test_component_written_as_a_plain_name_asks_for_a_mapping():
    raw = minimal()
    raw["inputs"][0]["encoder"] = "rnn"
    assert problems(raw) == [
        "inputs[0].encoder: expected a mapping with a 'type' key (e.g. {type: ...}), got 'rnn'"
    ]


def test_out_of_range_value_names_the_path():
    raw = minimal()
    raw["inputs"][0]["encoder"] = {"type": "rnn", "dropout": 1.5}
    [problem] = problems(raw)
    assert problem.startswith("inputs[0].encoder.dropout: ")


def test_unknown_encoder_type_lists_the_known_ones():
    raw = minimal()
    raw["inputs"][0]["encoder"] = {"type": "rnnn"}
    [problem] = problems(raw)
    assert problem.startswith("inputs[0].encoder: unknown type 'rnnn'; known: ")
    for known in ("cnn", "rnn", "transformer", "mlp"):
        assert f"'{known}'" in problem


def test_unknown_feature_type_lists_the_known_ones():
    raw = minimal()
    raw["inputs"][0]["type"] = "txt"
    [problem] = problems(raw)
    assert problem.startswith("inputs[0]: unknown type 'txt'; known: ")
    assert "'text'" in problem and "'image'" in problem


def test_feature_without_type_is_an_error():
    raw = minimal()
    del raw["inputs"][0]["type"]
    assert problems(raw) == ["inputs[0]: 'type' is missing"]


def test_missing_required_key():
    raw = minimal()
    del raw["outputs"][0]["name"]
    assert problems(raw) == ["outputs[0].name: required key is missing"]


@pytest.mark.parametrize(
    ("section", "value", "default_type"),
    [
        ("encoder", {"filters": 8}, "cnn"),
        ("combiner", {"hidden": [8]}, "mlp"),
        ("optimizer", {"lr": 0.1}, "adam"),
    ],
)
def test_missing_component_type_falls_back_to_the_default_model(section, value, default_type):
    raw = minimal()
    if section == "encoder":
        raw["inputs"][0]["encoder"] = value
    elif section == "combiner":
        raw["combiner"] = value
    else:
        raw["trainer"] = {"optimizer": value}
    config = validate(raw)
    component = {
        "encoder": config.inputs[0].encoder,
        "combiner": config.combiner,
        "optimizer": config.trainer.optimizer,
    }[section]
    assert component.type == default_type
    key, expected = next(iter(value.items()))
    assert getattr(component, key) == expected


def test_missing_type_checks_keys_against_the_default_model():
    raw = minimal(trainer={"optimizer": {"momentum": 0.9}})
    [problem] = problems(raw)
    assert problem.startswith("trainer.optimizer.momentum: unknown key")
    assert "weight_decay" in problem  # the keys Adam allows


def test_literal_typo_gets_a_suggestion():
    raw = minimal(trainer={"precision": "bf15"})
    assert problems(raw) == [
        "trainer.precision: 'bf15' is not allowed; expected 'fp32', 'bf16' or 'auto'; did you mean 'bf16'?"
    ]


def test_an_unknown_strategy_is_an_error_naming_the_two():
    assert validate(minimal()).trainer.strategy == "ddp"
    assert problems(minimal(trainer={"strategy": "zero3"})) == [
        "trainer.strategy: 'zero3' is not allowed; expected 'ddp' or 'fsdp'"
    ]


def test_json_schema_is_valid_json_with_the_top_level_properties():
    text = json.dumps(Config.model_json_schema())
    schema = json.loads(text)
    assert set(schema["properties"]) == {
        "task",
        "name",
        "model_type",
        "gbdt",
        "data",
        "inputs",
        "outputs",
        "combiner",
        "trainer",
        "tracking",
        "evaluation",
        "baselines",
    }
    assert set(schema["required"]) == {"inputs", "outputs"}
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ({"name": "y", "type": "category"}, TextBow()),
        ({"name": "ner", "type": "tags"}, TextCnn()),
        ({"name": "french", "type": "text"}, TextCnn()),
    ],
)
def test_a_text_input_naming_no_encoder_gets_one_its_outputs_can_read(output, expected):
    """bow pools a text into one vector; outputs reading every token get cnn instead."""
    config = validate({"inputs": [{"name": "t", "type": "text"}], "outputs": [output]})
    assert config.inputs[0].encoder == expected
    named = {"name": "t", "type": "text", "encoder": {"type": "rnn"}}
    assert validate({"inputs": [named], "outputs": [output]}).inputs[0].encoder.type == "rnn"
