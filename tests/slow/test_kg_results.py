"""The link-prediction results README.md states for examples/kg (ComplEx with 1-N softmax and
N3 on UMLS and Kinships), by their documented commands.

About 3 minutes on 2 cores. Needs the graphs extracted from PyKEEN's wheel (nothing is
installed; see examples/kg/umls.yaml), which a test cannot download.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.slow.helpers import EXAMPLES, README, at_least, readme_says, train

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

EXTRACT = (
    "pip download --no-deps pykeen==1.11.1 -d /tmp/kgw && python bench/kg_data.py "
    "/tmp/kgw/pykeen-1.11.1-py3-none-any.whl examples/kg/data --graphs umls kinships"
)


def _graph_is_there(name: str) -> None:
    folder = EXAMPLES / "kg/data" / name
    if not all((folder / f"{part}.txt").is_file() for part in ("train", "valid", "test")):
        pytest.fail(
            f"examples/kg: the {name} graph is missing; extract it:\n  {EXTRACT}", pytrace=False
        )


@pytest.mark.parametrize(
    ("config", "readme_row", "mrr", "hits_at_10"),
    [
        ("umls", "| `examples/kg` | UMLS", 0.945, 0.997),
        ("kinships", "| `examples/kg` (`kinships.yaml`)", 0.872, 0.984),
    ],
)
def test_complex_filtered_ranking(config, readme_row, mrr, hits_at_10, tmp_path: Path):
    readme_says(README, readme_row, f"MRR {mrr}, Hits@10 {hits_at_10}")
    _graph_is_there(config)
    test = train(EXAMPLES / f"kg/{config}.yaml", tmp_path / "run")["test"]
    # ~500-1,300 test triples x 2 sides: 0.01 MRR is the spread between machines and threads
    at_least(f"{config} test MRR", test["mrr"], mrr, 0.01)
    at_least(f"{config} test Hits@10", test["hits_at_10"], hits_at_10, 0.01)
