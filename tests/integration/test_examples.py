"""Every config in examples/ is valid; the bundled ones also train for one epoch end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.config import load_config
from tests.integration.cli_helpers import modelyard

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CONFIGS = sorted(EXAMPLES.glob("*/*.yaml"))
BUNDLED = [
    "penguins",
    "wine",
    "breast_cancer",
]  # their data is committed; the others need prepare.py


def test_there_are_examples():
    assert {p.parent.name for p in CONFIGS} >= {*BUNDLED, "digits", "fashion_mnist", "fortunes"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_example_config_is_valid(path):
    config, base = load_config(path)
    assert config.name.startswith(path.parent.name)
    assert base == path.parent


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_example_trains_one_epoch(name, tmp_path):
    config = EXAMPLES / name / "config.yaml"
    modelyard("validate", str(config), cwd=tmp_path)
    modelyard("train", str(config), "--output", "run", "--set", "trainer.epochs=1", cwd=tmp_path)
    assert (tmp_path / "run/metrics.json").is_file()


def test_digits_example_trains_one_epoch_on_prepared_images(tmp_path):
    """prepare.py builds the class folders; the example then runs as written (one epoch)."""
    import shutil
    import subprocess
    import sys

    example = tmp_path / "digits"
    shutil.copytree(EXAMPLES / "digits", example, ignore=shutil.ignore_patterns("data"))
    subprocess.run([sys.executable, str(example / "prepare.py")], check=True, capture_output=True)
    assert len(list((example / "data/images").glob("*/*.png"))) == 1797
    modelyard(
        "train",
        str(example / "config.yaml"),
        "--output",
        "run",
        "--set",
        "trainer.epochs=1",
        cwd=tmp_path,
    )
