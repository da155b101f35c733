"""Reading triples: headerless TSV, named or positioned columns, one shared entity
vocabulary, a split of one file, the unknown-entity policy, and bad lines named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelyard.config import validate
from modelyard.errors import UserError
from modelyard.linkpred.data import read_graph


def _config(**data):
    return validate({"task": "link_prediction", "data": data})


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path.name


def test_headerless_tsv_with_one_vocabulary_for_heads_and_tails(tmp_path):
    train = _write(tmp_path / "train.txt", ["a\tlikes\tb", "b\tlikes\tc", "", "c\tknows\ta"])
    valid = _write(tmp_path / "valid.txt", ["a\tknows\tc"])
    config = _config(train=train, validation=valid)
    graph = read_graph(config.data, config.split, tmp_path)
    assert graph.entity_ids.tolist() == ["a", "b", "c"]  # heads first, then tails, in order
    assert graph.relation_ids.tolist() == ["likes", "knows"]
    assert graph.triples["train"].tolist() == [[0, 0, 1], [1, 0, 2], [2, 1, 0]]
    assert graph.triples["validation"].tolist() == [[0, 1, 2]]
    assert graph.triples["test"].shape == (0, 3)
    assert len(graph.known()) == 4


def test_csv_columns_by_name_in_any_order_and_parquet_by_position(tmp_path):
    pd.DataFrame({"t": ["y", "z"], "h": ["x", "y"], "rel": ["r", "r"]}).to_csv(
        tmp_path / "kg.csv", index=False
    )
    config = _config(train="kg.csv", columns=["h", "rel", "t"], header=True)
    graph = read_graph(config.data, config.split, tmp_path)
    assert graph.entity_ids.tolist() == ["x", "y", "z"]
    assert graph.triples["train"].tolist() == [[0, 0, 1], [1, 0, 2]]
    pd.DataFrame({"a": ["x", "y"], "b": ["r", "r"], "c": ["y", "z"]}).to_parquet(
        tmp_path / "kg.parquet"
    )
    config = _config(train="kg.parquet", columns=[2, 1, 0])  # tail as head: reversed edges
    graph = read_graph(config.data, config.split, tmp_path)
    assert graph.entity_ids.tolist() == ["y", "z", "x"]


def test_one_file_split_by_ratio_keeps_every_triple_once(tmp_path):
    lines = [f"e{i}\tr{i % 3}\te{(i + 1) % 20}" for i in range(100)]
    config = _config(file=_write(tmp_path / "all.tsv", lines))
    config = config.model_copy(update={"split": config.split.model_copy(update={"test": 0.2})})
    graph = read_graph(config.data, config.split, tmp_path)
    sizes = {name: len(t) for name, t in graph.triples.items()}
    assert sizes["validation"] + sizes["test"] + len(graph.left_out.get("test", {})) <= 30
    assert sizes["train"] == 70
    assert len(graph.known()) + sum(sum(v.values()) for v in graph.left_out.values()) == 100


def test_held_out_triples_of_unknown_entities_or_relations_are_dropped_and_counted(
    tmp_path, capsys
):
    train = _write(tmp_path / "train.txt", ["a\tr\tb", "b\tr\tc"])
    test = _write(tmp_path / "test.txt", ["a\tr\tc", "a\tr\tzz", "a\tnew\tb", "yy\tnew\tb"])
    config = _config(train=train, test=test)
    graph = read_graph(config.data, config.split, tmp_path)
    assert graph.triples["test"].tolist() == [[0, 0, 2]]
    assert graph.left_out == {"test": {"entity not in training": 2, "relation not in training": 1}}
    note = capsys.readouterr().err
    assert "left out 3 of 4 test triples" in note and "line 2: (a, r, zz)" in note
    with pytest.raises(
        UserError, match=r"test.txt: 3 test triples name an entity or relation .* line 2"
    ):
        read_graph(_config(train=train, test=test, unknown="error").data, config.split, tmp_path)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            ["a\tr\tb", "b\tr\tc\textra", "c\tr"],
            r"bad.tsv: line 2 has 4 fields but line 1 has 3 \(2 such lines\)",
        ),
        (["a\tr\tb", "", "b\t\tc"], r"bad.tsv: line 3: empty relation \(1 lines with one\)"),
        (["a\tr\tb", " \tr\tc"], r"bad.tsv: line 2: empty head"),
    ],
)
def test_bad_lines_are_named_with_their_file_and_line(tmp_path, lines, message):
    config = _config(train=_write(tmp_path / "bad.tsv", lines))
    with pytest.raises(UserError, match=message):
        read_graph(config.data, config.split, tmp_path)


def test_a_column_position_past_the_file_is_named(tmp_path):
    config = _config(train=_write(tmp_path / "two.tsv", ["a\tb"]))
    with pytest.raises(UserError, match="the tail as column 2 .* has 2 columns"):
        read_graph(config.data, config.split, tmp_path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"train": "a.csv", "columns": ["h", "r", "t"]}, "need a header line in 'a.csv'"),
        ({"file": "a.tsv", "train": "b.tsv"}, "not both"),
        ({}, "data.train: not set"),
        ({"train": "a.tsv", "columns": [0, 0, 2]}, "names a column twice"),
    ],
)
def test_config_checks(data, message):
    from modelyard.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        _config(**data)


def test_training_checks():
    from modelyard.errors import ConfigError

    base = {"task": "link_prediction", "data": {"train": "a.tsv"}}
    for training, message in (
        ({"loss": "negative_sampling", "corruption": "bernoulli"}, "only tails are"),
        ({"self_adversarial": 1.0}, "needs loss: negative_sampling"),
        ({"regularizer": "n3"}, "with weight 0 does nothing"),
        ({"loss": "negative_sampling", "queries": "grouped"}, "it needs loss: softmax"),
    ):
        with pytest.raises(ConfigError, match=message):
            validate({**base, "training": training})
    conve = {**base, "model": {"type": "conve", "dim": 20, "height": 4}}
    with pytest.raises(ConfigError, match="conve predicts tails only"):
        validate({**conve, "training": {"inverse_relations": False}})
    with pytest.raises(ConfigError, match="model.height: 3 must divide model.dim"):
        validate({**conve, "model": {"type": "conve", "dim": 20, "height": 3}})
    assert np.isclose(
        validate(
            {
                **base,
                "training": {
                    "loss": "negative_sampling",
                    "corruption": "bernoulli",
                    "inverse_relations": False,
                },
            }
        ).training.margin,
        6.0,
    )
