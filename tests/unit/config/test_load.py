"""Reading YAML configs and applying `--set` overrides."""

from __future__ import annotations

import pytest

from modelyard.config import load_config
from modelyard.config.load import apply_overrides, read_yaml
from modelyard.errors import ConfigError, UserError

CONFIG = """\
data:
  train: train.csv
inputs:
  - name: review
    type: text
outputs:
  - name: label
    type: category
"""


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "sentiment.yaml"
    path.write_text(CONFIG)
    return path


def test_load_returns_config_and_the_config_folder(config_file):
    config, base = load_config(config_file)
    assert config.inputs[0].name == "review"
    assert base == config_file.parent.resolve()


def test_name_defaults_to_the_file_stem(config_file):
    config, _ = load_config(config_file)
    assert config.name == "sentiment"


def test_name_in_the_file_wins_over_the_stem(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("name: mine\n" + CONFIG)
    assert load_config(path)[0].name == "mine"


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: a\ndata: : 2\n")
    with pytest.raises(
        UserError, match=r"bad\.yaml: YAML syntax error at line 2, column 7: mapping values"
    ):
        read_yaml(path)


@pytest.mark.parametrize(
    ("text", "kind"), [("- a\n- b\n", "list"), ("just text\n", "str"), ("", "NoneType")]
)
def test_yaml_that_is_not_a_mapping_is_an_error(tmp_path, text, kind):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=f"must be a mapping of keys to values, got {kind}"):
        read_yaml(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(UserError, match="config file '.*nope.yaml' does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_validation_errors_name_the_file(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text(CONFIG + "trainre: {}\n")
    with pytest.raises(ConfigError, match=r"typo\.yaml: 1 problem:\n  trainre: unknown key"):
        load_config(path)


def test_set_overrides_are_applied_before_validation(config_file):
    config, _ = load_config(config_file, ["trainer.epochs=5", "inputs.0.encoder.type=rnn"])
    assert config.trainer.epochs == 5
    assert config.inputs[0].encoder.type == "rnn"


def test_set_accepts_bracket_indices():
    raw = {"inputs": [{"name": "a", "encoder": {"type": "cnn"}}]}
    out = apply_overrides(raw, ["inputs[0].encoder.type=rnn"])
    assert out["inputs"][0]["encoder"]["type"] == "rnn"


def test_set_values_are_parsed_as_yaml():
    out = apply_overrides({}, ["a=5", "b=0.5", "c=[1, 2]", "d=true", "e=text", "f={x: 1}"])
    assert out == {"a": 5, "b": 0.5, "c": [1, 2], "d": True, "e": "text", "f": {"x": 1}}


def test_set_with_invalid_yaml_value_keeps_the_text():
    assert apply_overrides({}, ["a=[1"]) == {"a": "[1"}


def test_set_does_not_change_the_input():
    raw = {"trainer": {"epochs": 1}}
    apply_overrides(raw, ["trainer.epochs=5"])
    assert raw == {"trainer": {"epochs": 1}}


def test_set_creates_missing_sections():
    assert apply_overrides({}, ["trainer.optimizer.lr=0.1"]) == {
        "trainer": {"optimizer": {"lr": 0.1}}
    }


@pytest.mark.parametrize("item", ["trainer.epochs", "=5", ""])
def test_set_without_key_value_form_is_an_error(item):
    with pytest.raises(UserError, match="expected KEY=VALUE, e.g. trainer.epochs=5"):
        apply_overrides({}, [item])


@pytest.mark.parametrize(
    "item", ["inputs.1.type=rnn", "inputs.first.type=rnn", "inputs[-1].type=rnn"]
)
def test_set_with_a_bad_list_index_is_an_error(item):
    with pytest.raises(UserError, match="is not an index of a list of 1"):
        apply_overrides({"inputs": [{"type": "text"}]}, [item])


def test_set_into_a_plain_value_is_an_error():
    with pytest.raises(UserError, match="cannot go into 'trainer.epochs', it is a value"):
        apply_overrides({"trainer": {"epochs": 1}}, ["trainer.epochs.x=5"])


def test_override_that_makes_the_config_invalid_is_reported(config_file):
    with pytest.raises(
        ConfigError, match=r"--set trainer\.epochs=0: Input should be greater than 0"
    ):
        load_config(config_file, ["trainer.epochs=0"])


def test_problems_from_set_name_the_set_argument_not_the_file(config_file):
    with pytest.raises(ConfigError) as caught:
        load_config(config_file, ["trainer.epoch=3"])
    message = str(caught.value)
    assert "--set trainer.epoch=3: unknown key 'epoch'; did you mean 'epochs'?" in message
    assert "sentiment.yaml" not in message


def test_set_blame_reaches_into_what_it_set_and_its_type(config_file):
    with pytest.raises(ConfigError) as caught:
        load_config(
            config_file,
            ["inputs[0].encoder={type: transformer, laers: 2}", "combiner.type=attention"],
        )
    message = str(caught.value)
    assert (
        "--set inputs[0].encoder={type: transformer, laers: 2}: inputs[0].encoder.laers: unknown key"
        in message
    )
    assert "--set combiner.type=attention: unknown type 'attention'" in message


def test_file_problems_keep_the_files_name_beside_set_problems(config_file):
    config_file.write_text(CONFIG + "trainer: {epochz: 2}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(config_file, ["trainer.seed=x"])
    message = str(caught.value)
    assert message.startswith(f"{config_file}: 2 problems")
    assert "  trainer.epochz: unknown key" in message and "--set trainer.seed=x: " in message


def test_load_from_a_dict_uses_the_working_folder(tmp_path, monkeypatch):
    import yaml

    monkeypatch.chdir(tmp_path)
    raw = yaml.safe_load(CONFIG)
    config, base = load_config(raw, ["trainer.seed=3"])
    assert (config.name, config.trainer.seed, base) == ("run", 3, tmp_path)
    assert "trainer" not in raw
