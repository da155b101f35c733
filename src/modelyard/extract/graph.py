"""Triples as graph files: GraphML through networkx, RDF Turtle through rdflib."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pandas as pd

from modelyard.errors import UserError

DEFAULT_BASE = "urn:modelyard:"


def write_graphml(table: pd.DataFrame, path: Path) -> None:
    """A directed multigraph: one node per entity (its name), one edge per triple with its
    relation, score and sentence count."""
    import networkx as nx

    graph = nx.MultiDiGraph()
    for row in table.itertuples(index=False):
        graph.add_edge(
            row.head,
            row.tail,
            relation=row.relation,
            score=float(row.score),
            sentences=int(row.sentences),
        )
    nx.write_graphml(graph, path)


def write_turtle(table: pd.DataFrame, path: Path, base: str = DEFAULT_BASE) -> None:
    """Entities `<base>entity/<name>` with an rdfs:label, relations `<base>relation/<name>`;
    one RDF triple per triple (scores stay in the TSV and GraphML)."""
    try:
        from rdflib import Graph, Literal, Namespace
        from rdflib.namespace import RDFS
    except ImportError as error:
        raise UserError("--turtle needs rdflib: pip install 'modelyard[kg]'") from error

    entity, relation = Namespace(base + "entity/"), Namespace(base + "relation/")
    graph = Graph()
    graph.bind("entity", entity)
    graph.bind("relation", relation)
    for row in table.itertuples(index=False):
        head, tail = entity[quote(row.head, safe="")], entity[quote(row.tail, safe="")]
        graph.add((head, relation[quote(row.relation, safe="")], tail))
        graph.add((head, RDFS.label, Literal(row.head)))
        graph.add((tail, RDFS.label, Literal(row.tail)))
    graph.serialize(destination=str(path), format="turtle")
