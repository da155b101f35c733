"""extract-triples end to end: a tiny tagger and a tiny relation classifier trained on made-up
definitions find the relations of sentences about words they never saw; the outputs feed link
prediction; bad input stops with exit 2."""

from __future__ import annotations

import random

import pandas as pd
import pytest
import yaml

from modelyard.extract.pipeline import marked, tokenize
from tests.integration.cli_helpers import modelyard, user_error

pytestmark = pytest.mark.integration

TEMPLATES = {  # relation of the defined word to the second noun
    "hypernym": "{a} : a small {b} found near the {c}",
    "part_of": "{a} : the front part of a {b} , seen in the {c}",
}


def _word(rng: random.Random) -> str:
    return "".join(rng.choice("bdfgklmnprstvz") + rng.choice("aeiou") for _ in range(3))


def _sentence(rng: random.Random):
    """(tokens, tags, [(first span, second span, relation)], gold triple)."""
    relation = rng.choice(sorted(TEMPLATES))
    a, b, c = _word(rng), _word(rng), _word(rng)
    tokens = tokenize(TEMPLATES[relation].format(a=a, b=b, c=c))
    head, second = (0, 1), (tokens.index(b), tokens.index(b) + 1)
    tags = ["B-ENT" if i in (0, second[0]) else "O" for i in range(len(tokens))]
    pairs = [(head, second, relation), (second, head, "none")]
    third = (tokens.index(c), tokens.index(c) + 1)
    return tokens, tags, pairs, third, (a, relation, b)


def _write_training_data(tmp_path, rows: int = 160) -> list:
    rng = random.Random(0)
    mentions, relations, held_out = [], [], []
    for i in range(rows + 12):
        tokens, tags, pairs, third, gold = _sentence(rng)
        if i >= rows:
            held_out.append((" ".join(tokens), gold))
            continue
        mentions.append({"tokens": " ".join(tokens), "tags": " ".join(tags)})
        for first, second, relation in pairs + [((0, 1), third, "none")]:
            relations.append({"text": marked(tokens, first, second), "relation": relation})
    pd.DataFrame(mentions).to_csv(tmp_path / "mentions.csv", index=False)
    pd.DataFrame(relations).to_csv(tmp_path / "relations.csv", index=False)
    pd.DataFrame({"text": [text for text, _ in held_out]}).to_csv(
        tmp_path / "sentences.csv", index=False
    )
    return [gold for _, gold in held_out]


def _config(name: str, column: str, output: dict) -> dict:
    return {
        "name": name,
        "data": {"train": f"{name}.csv", "split": {"validation": 0.15, "test": 0.1}},
        "inputs": [
            {
                "name": column,
                "type": "text",
                "preprocessing": {"tokenizer": "whitespace", "min_frequency": 3},
                "encoder": {"type": "transformer", "dim": 32, "layers": 1, "heads": 2},
            }
        ],
        "outputs": [output],
        "trainer": {"epochs": 15, "batch_size": 16, "optimizer": {"type": "adam", "lr": 0.005}},
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("extract")
    gold = _write_training_data(tmp_path)
    for name, column, output in (
        ("mentions", "tokens", {"name": "tags", "type": "tags"}),
        ("relations", "text", {"name": "relation", "type": "category"}),
    ):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(_config(name, column, output)))
        modelyard("train", f"{name}.yaml", cwd=tmp_path)
    return tmp_path, gold


def _extract(tmp_path, *extra: str, check: int | None = 0):
    args = ["extract-triples", "--entities", "runs/mentions", "--relations", "runs/relations"]
    return modelyard(*args, *extra, cwd=tmp_path, check=check)


def test_relations_of_unseen_words_become_triples_and_graph_files(trained):
    tmp_path, gold = trained
    result = _extract(
        tmp_path,
        "--data",
        "sentences.csv",
        "--out",
        "triples.tsv",
        "--details",
        "details.csv",
        "--graphml",
        "g.graphml",
        "--turtle",
        "g.ttl",
    )
    assert "12 sentences ->" in result.stderr
    found = pd.read_csv(tmp_path / "triples.tsv", sep="\t", header=None)
    found = {tuple(row) for row in found.values}
    assert len(found & set(gold)) >= 10, (found, gold)  # new words: found by position
    assert len(found - set(gold)) <= 2
    details = pd.read_csv(tmp_path / "details.csv")
    assert details.columns.tolist() == ["head", "relation", "tail", "score", "sentences"]
    assert (details["score"] >= 0.5).all()
    assert (tmp_path / "g.graphml").stat().st_size > 0 and (tmp_path / "g.ttl").exists()

    # the triples file is a link prediction train file as it is
    config = {"task": "link_prediction", "data": {"train": "triples.tsv"}}
    (tmp_path / "kg.yaml").write_text(yaml.safe_dump(config))
    checked = modelyard("validate", "kg.yaml", cwd=tmp_path).stderr
    assert f"train: {len(found)}," in checked and "data is valid" in checked

    (tmp_path / "lines.txt").write_text("zuzuzu : a small bababa found near the kikiki\n\n")
    _extract(tmp_path, "--data", "lines.txt", "--out", "one.tsv")
    assert (tmp_path / "one.tsv").read_text() == "zuzuzu\thypernym\tbababa\n"


def test_bad_input_stops_with_exit_2(trained):
    tmp_path, _ = trained
    taken = user_error(
        _extract(tmp_path, "--data", "sentences.csv", "--out", "relations.csv", check=None)
    )
    assert "relations.csv already exist" in taken and "--overwrite" in taken
    column = user_error(
        _extract(
            tmp_path, "--data", "sentences.csv", "--column", "txt", "--out", "t.tsv", check=None
        )
    )
    assert "no column 'txt'" in column and "'text'" in column
    threshold = user_error(
        _extract(
            tmp_path, "--data", "sentences.csv", "--threshold", "0", "--out", "t.tsv", check=None
        )
    )
    assert "--threshold 0" in threshold
    swapped = modelyard(
        "extract-triples",
        "--entities",
        "runs/relations",
        "--relations",
        "runs/mentions",
        "--data",
        "sentences.csv",
        "--out",
        "t.tsv",
        cwd=tmp_path,
        check=None,
    )
    assert "--entities: needs a run with one text input and one tags output" in user_error(swapped)
    (tmp_path / "empty.txt").write_text("\n  \n")
    empty = user_error(_extract(tmp_path, "--data", "empty.txt", "--out", "t.tsv", check=None))
    assert "no sentences" in empty
    assert not (tmp_path / "t.tsv").exists()
