"""The tune: section: its schema, its keys checked against the config, the values drawn."""

from __future__ import annotations

import copy

import optuna
import pytest
import yaml

from modelyard.config import load_config
from modelyard.errors import ConfigError
from modelyard.tune.space import choice_label, load_study, suggest
from tests.conftest import make_table, tiny_config

SPACE = {
    "trainer.optimizer.lr": {"loguniform": [1e-4, 1e-1]},
    "combiner.hidden": {"choice": [[8], [16, 8]]},
    "combiner.dropout": {"uniform": [0.0, 0.5]},
    "inputs.0.preprocessing.normalization": {"choice": ["standard", "minmax"]},
    "trainer.batch_size": {"int": [8, 32], "step": 8},
}


def _write(tmp_path, tune: dict, **changes):
    config = {**tiny_config(), **changes, "tune": tune}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    make_table().to_csv(tmp_path / "data.csv", index=False)
    return path


def _problems(tmp_path, tune: dict, **changes) -> str:
    with pytest.raises(ConfigError) as e:
        load_study(_write(tmp_path, tune, **changes))
    return str(e.value)


def test_a_valid_section_reads_with_the_metric_direction(tmp_path):
    study = load_study(_write(tmp_path, {"space": SPACE, "metric": "accuracy"}))
    assert study.direction == "maximize"
    assert "tune" not in study.raw
    assert load_study(_write(tmp_path, {"space": SPACE, "metric": "log_loss"})).direction == (
        "minimize"
    )
    override = {"space": SPACE, "metric": "accuracy", "direction": "minimize"}
    assert load_study(_write(tmp_path, override)).direction == "minimize"


def test_unknown_config_key_gets_a_suggestion(tmp_path):
    text = _problems(tmp_path, {"space": {"trainer.optimzer.lr": {"uniform": [0.1, 0.2]}}})
    assert "tune.space.trainer.optimzer.lr: unknown config key" in text
    assert "did you mean 'optimizer'?" in text


def test_list_index_and_value_paths_are_checked(tmp_path):
    text = _problems(tmp_path, {"space": {"inputs.9.encoder.type": {"choice": ["a"]}}})
    assert "'9' is not an index of inputs, a list of 5" in text
    text = _problems(tmp_path, {"space": {"trainer.epochs.x": {"int": [1, 3]}}})
    assert "trainer.epochs is a value" in text


def test_data_keys_are_not_tuned(tmp_path):
    text = _problems(tmp_path, {"space": {"data.split.seed": {"int": [0, 3]}}})
    assert "'data' is the same in every trial" in text


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ({"uniform": [0.5, 0.1]}, "low 0.5 is not below high 0.1"),
        ({"int": [3, 3]}, "low 3 is not below high 3"),
        ({"loguniform": [0.0, 0.1]}, "a log scale needs low > 0, got 0"),
        ({"loguniform": [-1, 0.1]}, "a log scale needs low > 0"),
        ({"uniform": [0.1, 0.2], "choice": [1]}, "write exactly one of"),
        ({"choice": [1, 2], "step": 1}, "step: applies to int and uniform"),
        ({"int": [1, 9], "step": 1.5}, "takes a whole step"),
    ],
)
def test_impossible_ranges(tmp_path, param, message):
    assert message in _problems(tmp_path, {"space": {"trainer.optimizer.lr": param}})


def test_edge_of_a_range_that_breaks_the_config(tmp_path):
    text = _problems(tmp_path, {"space": {"combiner.dropout": {"uniform": [0.0, 1.0]}}})
    assert "tune.space.combiner.dropout: 1.0 makes the config invalid" in text


def test_metric_the_config_does_not_report(tmp_path):
    text = _problems(tmp_path, {"space": SPACE, "metric": "acuracy"})
    assert "tune.metric: 'acuracy' is not a validation metric" in text
    assert "did you mean 'accuracy'?" in text
    assert "rmse" in _problems(tmp_path, {"space": SPACE, "metric": "rmse"})


def test_a_config_without_validation_split_cannot_be_tuned(tmp_path):
    data = copy.deepcopy(tiny_config()["data"])
    data["split"]["validation"] = None
    assert "has none; set data.split.validation" in _problems(tmp_path, {"space": SPACE}, data=data)


def test_schema_errors_name_the_key(tmp_path):
    text = _problems(tmp_path, {"space": {"trainer.optimizer.lr": {"loguniorm": [1, 2]}}})
    assert "loguniorm: unknown key; did you mean 'loguniform'?" in text
    text = _problems(tmp_path, {"space": SPACE, "sampler": "tp"})
    assert "tune.sampler: 'tp' is not allowed" in text


def test_other_commands_leave_the_section_out(tmp_path, capsys):
    path = _write(tmp_path, {"space": SPACE})
    config, _ = load_config(path)
    assert "tune" not in config.model_dump()
    assert "tune: section of" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="tune.trials"):
        load_config(_write(tmp_path, {"space": SPACE, "trials": 0}))


def test_suggest_draws_every_kind_within_its_range(tmp_path):
    study = load_study(_write(tmp_path, {"space": SPACE}))
    sampled = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(10):
        trial = sampled.ask()
        values = {k: suggest(trial, k, p) for k, p in study.tune.space.items()}
        assert 1e-4 <= values["trainer.optimizer.lr"] <= 1e-1
        assert values["combiner.hidden"] in ([8], [16, 8])  # a list back, not its JSON text
        assert 0 <= values["combiner.dropout"] <= 0.5
        assert values["trainer.batch_size"] in (8, 16, 24, 32)
        config = study.trial_config(values)
        assert list(config.combiner.hidden) == values["combiner.hidden"]
        assert config.trainer.optimizer.lr == values["trainer.optimizer.lr"]
        sampled.tell(trial, 0.0)


def test_choice_labels():
    assert choice_label([64, 32]) == "[64, 32]"
    assert choice_label({"type": "adam"}) == '{"type": "adam"}'
    assert choice_label(None) is None and choice_label("relu") == "relu"
