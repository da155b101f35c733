"""A pretrained checkpoint that cannot be used is the user's to fix: exit 2, one `error:` line."""

from __future__ import annotations

import shutil
from subprocess import CompletedProcess

import pytest
import yaml

from tests.conftest import make_table, tiny_config
from tests.integration.cli_helpers import user_error
from tests.pretrained_fixtures import save_tiny_checkpoint

pytestmark = pytest.mark.integration


def _checkpoint(folder, kind: str):
    """'missing': no directory; 'no-config': a directory without config.json; 'no-weights':
    config.json alone."""
    path = folder / kind
    if kind == "no-config":
        path.mkdir()
        (path / "README.md").write_text("not a checkpoint", encoding="utf-8")
    elif kind == "no-weights":
        full = save_tiny_checkpoint(folder / "full", "bert")
        path.mkdir()
        shutil.copy(full / "config.json", path)
    return path


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("missing", "does not exist"),
        ("no-config", "not a transformers checkpoint (no config.json)"),
        ("no-weights", "cannot be loaded by transformers.AutoModel"),
    ],
)
def test_an_unusable_checkpoint_is_a_user_error(tmp_path, monkeypatch, capsys, kind, expected):
    from modelyard.cli import main

    monkeypatch.chdir(tmp_path)
    make_table(40).to_csv("data.csv", index=False)
    config = tiny_config(epochs=1)
    config["inputs"][4]["encoder"] = {
        "type": "pretrained",
        "model": str(_checkpoint(tmp_path, kind)),
    }
    config["inputs"][4]["preprocessing"] = {"max_length": 16}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    code = main(["train", "config.yaml", "--output", "run"])
    result = CompletedProcess([], code, "", capsys.readouterr().err)
    assert expected in user_error(result)
