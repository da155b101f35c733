"""The registry of config kinds: every part of every kind resolves to what its users call."""

import inspect

import pytest

from modelyard.config.schema import root_models
from modelyard.fitting import Fitting
from modelyard.kinds import KINDS, part


def test_every_kind_the_schema_accepts_is_registered():
    assert set(KINDS) == set(root_models()) - {"supervised"}


@pytest.mark.parametrize("task", sorted(KINDS))
def test_each_kind_resolves_its_model_checks_and_data_check(task):
    assert issubclass(part(task, "model"), Fitting)
    checks = part(task, "config_checks")
    assert isinstance(checks, list) and checks
    assert all(list(inspect.signature(c).parameters) == ["config"] for c in checks)
    assert list(inspect.signature(part(task, "data_check")).parameters) == ["config", "base"]
