"""The string-keyed component registry."""

from __future__ import annotations

import pytest

from modelyard.errors import UserError
from modelyard.registry import Registry


def make() -> Registry[type]:
    registry: Registry[type] = Registry("encoder")
    for name in ("rnn", "cnn"):
        registry.register(name)(type(name, (), {}))
    return registry


def test_get_returns_the_registered_item():
    registry = make()
    assert registry.get("cnn").__name__ == "cnn"
    assert "rnn" in registry and "gru" not in registry
    assert registry.names() == ["cnn", "rnn"]


def test_register_works_as_a_decorator_and_returns_the_item():
    registry: Registry[type] = Registry("combiner")

    @registry.register("concat")
    class Concat:
        pass

    assert registry.get("concat") is Concat


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UserError, match=r"^unknown encoder 'rnnn'; known: cnn, rnn$"):
        make().get("rnnn")


def test_registering_a_name_twice_fails():
    registry = make()
    with pytest.raises(ValueError, match="encoder 'cnn' is registered twice"):
        registry.register("cnn")(int)
    assert registry.get("cnn") is not int
