"""The pieces of triple extraction: tokens, BIO spans, entity markers, canonical names, the
graph files read back by networkx and rdflib."""

from __future__ import annotations

import pandas as pd
import pytest

from modelyard.extract import graph
from modelyard.extract.pipeline import canonical, marked, spans, tokenize, triples


def test_tokenize_keeps_letters_of_any_script_together():
    assert tokenize("Café crème_brûlée, naïve.") == [
        "Café",
        "crème",
        "_",
        "brûlée",
        ",",
        "naïve",
        ".",
    ]


def test_tokenize_keeps_inner_hyphens_and_apostrophes_and_splits_punctuation():
    assert tokenize("A bird's nest: (well-made), 3.") == [
        "A",
        "bird's",
        "nest",
        ":",
        "(",
        "well-made",
        ")",
        ",",
        "3",
        ".",
    ]


def test_spans_read_bio_tags_as_seqeval_does():
    tags = ["B-ENT", "I-ENT", "O", "I-ENT", "B-ENT", "B-ENT", "I-ENT"]
    assert spans(tags) == [(0, 2), (3, 4), (4, 5), (5, 7)]
    assert spans(["O", "O"]) == [] and spans([]) == []


def test_marked_puts_the_markers_around_both_spans_in_either_order():
    tokens = ["sparrow", ":", "a", "small", "singing", "bird"]
    assert marked(tokens, (0, 1), (4, 6)) == "[E1] sparrow [/E1] : a small [E2] singing bird [/E2]"
    assert marked(tokens, (5, 6), (0, 1)) == "[E2] sparrow [/E2] : a small singing [E1] bird [/E1]"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("The  Sparrow", "sparrow"), ("an Oak tree", "oak tree"), ("A", "a"), ("theory", "theory")],
)
def test_canonical_names(name, expected):
    assert canonical(name) == expected


def _found() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sentence": [1, 2, 2, 3],
            "head": ["sparrow", "sparrow", "wing", "sparrow"],
            "relation": ["hypernym", "hypernym", "part_of", "hypernym"],
            "tail": ["bird", "bird", "bird", "finch"],
            "score": [0.9, 0.7, 0.6, 0.95],
        }
    )


def test_triples_are_distinct_with_their_best_score_and_sentence_count():
    table = triples(_found())
    assert table.values.tolist() == [
        ["sparrow", "hypernym", "finch", 0.95, 1],
        ["sparrow", "hypernym", "bird", 0.9, 2],
        ["wing", "part_of", "bird", 0.6, 1],
    ]


def test_graphml_and_turtle_read_back(tmp_path):
    import networkx as nx
    import rdflib

    table = triples(_found())
    graph.write_graphml(table, tmp_path / "g.graphml")
    read = nx.read_graphml(tmp_path / "g.graphml", force_multigraph=True)
    edges = {(h, d["relation"], t) for h, t, d in read.edges(data=True)}
    assert edges == {tuple(row) for row in table[["head", "relation", "tail"]].values}
    assert sorted(read.nodes) == ["bird", "finch", "sparrow", "wing"]

    graph.write_turtle(table, tmp_path / "g.ttl", "https://example.org/kg/")
    rdf = rdflib.Graph().parse(tmp_path / "g.ttl", format="turtle")
    base = "https://example.org/kg/"
    assert (
        rdflib.URIRef(base + "entity/wing"),
        rdflib.URIRef(base + "relation/part_of"),
        rdflib.URIRef(base + "entity/bird"),
    ) in rdf
    labels = {str(o) for o in rdf.objects(predicate=rdflib.RDFS.label)}
    assert labels == {"sparrow", "wing", "bird", "finch"}


def test_a_pair_gets_its_likeliest_relation_scored_by_how_likely_it_is_related_at_all():
    from modelyard.errors import UserError
    from modelyard.extract.pipeline import Models, _relations

    models = Models(None, None, "tokens", "tags", "text", "rel")
    scored = pd.DataFrame(
        {
            "rel_prediction": ["none", "hypernym"],
            "rel_probability_hypernym": [0.30, 0.7],
            "rel_probability_none": [0.45, 0.2],
            "rel_probability_part_of": [0.25, 0.1],
        }
    )
    relation, score = _relations(scored, models)
    assert relation.tolist() == ["hypernym", "hypernym"]  # 'none' is never the relation
    assert score.tolist() == pytest.approx([0.55, 0.8])
    with pytest.raises(UserError, match="has no 'none' class"):
        _relations(scored.drop(columns="rel_probability_none"), models)
