"""CI runs exactly the README's test command, and that command lints and checks formatting."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme_test_command() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"run the tests:\n\n```bash\n(.+)\n```", readme)
    assert found, "README.md lost its 'Install everything and run the tests' block"
    return found.group(1)


def test_ci_runs_the_readme_test_command_exactly():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert ci[-1] == _readme_test_command()


def test_the_test_command_lints_and_checks_formatting_before_the_tests():
    steps = _readme_test_command().split(" && ")
    assert steps[1:3] == ["ruff check .", "ruff format --check ."]
    assert steps[-1] == "python -m pytest"
