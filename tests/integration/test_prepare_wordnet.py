"""examples/kg/prepare_wordnet.py on a few hand-written synsets in WordNet's data-file format."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
SCRIPT = Path(__file__).parents[2] / "examples" / "kg" / "prepare_wordnet.py"

NOUNS = """  1 This software and database is being provided to you, the LICENSEE, by
00000001 03 n 01 animal 0 002 ~ 00000002 n 0000 + 00000010 v 0101 | a living organism
00000002 05 n 02 dog 0 domestic_dog 0 003 @ 00000001 n 0000 %p 00000003 n 0000 ! 00000001 n 0101 | a pet
00000003 08 n 01 tail 0 001 #p 00000002 n 0000 | a part
00000004 08 n 01 loner 0 000 | nothing points here
"""
VERBS = """  1 This software and database is being provided to you, the LICENSEE, by
00000010 29 v 01 animate 0 002 + 00000001 n 0101 & 00000099 a 0000 01 + 02 00 | to make alive
"""


def _script():
    spec = importlib.util.spec_from_file_location("prepare_wordnet", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pointers_become_wn18rr_triples_with_readable_names(tmp_path):
    (tmp_path / "data.noun").write_text(NOUNS, encoding="latin-1")
    (tmp_path / "data.verb").write_text(VERBS, encoding="latin-1")
    prepare = _script()
    names, triples = prepare.read_synsets(tmp_path)
    assert names["00000002n"] == "dog.n.00000002" and names["00000010v"] == "animate.v.00000010"
    readable = {(names[h], r, names[t]) for h, r, t in triples}
    # hyponym (~), holonym (#p), antonym (!) and adjective targets are left out
    assert readable == {
        ("dog.n.00000002", "_hypernym", "animal.n.00000001"),
        ("dog.n.00000002", "_has_part", "tail.n.00000003"),
        ("animal.n.00000001", "_derivationally_related_form", "animate.v.00000010"),
        ("animate.v.00000010", "_derivationally_related_form", "animal.n.00000001"),
    }
    # tail has one triple; once it goes, dog has one too: only the derivation pair is left
    derived = {x for x in triples if x[1] == "_derivationally_related_form"}
    assert prepare.core(triples, 2) == derived


def test_symmetric_pairs_share_a_split_and_held_out_entities_are_trained():
    prepare = _script()
    triples = {(f"e{i}", "_hypernym", f"e{i + 1}") for i in range(40)}
    triples |= {(f"e{i}", "_verb_group", f"e{i + 2}") for i in range(0, 40, 2)}
    triples |= {(f"e{i + 2}", "_verb_group", f"e{i}") for i in range(0, 40, 2)}
    triples.add(("lonely", "_hypernym", "e0"))
    for seed in range(5):
        parts = prepare.split(triples, held_out=6, seed=seed)
        assert sorted(sum(parts.values(), [])) == sorted(triples)
        trained = {e for h, _, t in parts["train"] for e in (h, t)}
        for part in ("valid", "test"):
            assert all(h in trained and t in trained for h, _, t in parts[part])
            for h, r, t in parts[part]:
                if r == "_verb_group":
                    assert (t, r, h) in parts[part]
        assert ("lonely", "_hypernym", "e0") in parts["train"]
