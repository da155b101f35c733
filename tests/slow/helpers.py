"""Shared pieces of the README-result tests: run the documented commands, prepare the data,
read the numbers back and compare them with what the README says.

Every run writes into a temporary directory (never into the repository's `runs/`); data
preparation writes where the example's README says (`examples/<name>/data/`, git-ignored),
and only when the data is not there yet. A missing data source fails the test with what to
install: a README result that cannot be checked is not a passing test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
README = ROOT / "README.md"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run a command to completion (no timeout here: pytest-timeout bounds the test)."""
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    if result.returncode != 0:
        pytest.fail(
            f"`{' '.join(str(a) for a in args)}` exited {result.returncode}\n"
            f"stdout (end):\n{result.stdout[-3000:]}\nstderr (end):\n{result.stderr[-3000:]}",
            pytrace=False,
        )
    return result


def modelyard(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`modelyard ARGS` as the README writes it, through this interpreter."""
    return run(sys.executable, "-m", "modelyard", *args, cwd=cwd)


def train(config: Path, output: Path, *sets: str) -> dict:
    """`modelyard train CONFIG --output OUTPUT [--set ...]`; returns its metrics.json."""
    extra = [a for s in sets for a in ("--set", s)]
    modelyard("train", str(config), "--output", str(output), *extra, cwd=output.parent)
    return read_json(output / "metrics.json")


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def is_installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def on_path(program: str) -> bool:
    return shutil.which(program) is not None


def prepare(
    example: str,
    ready: list[str],
    needs: dict[str, bool],
    complete: Callable[[Path], bool] = lambda folder: True,
) -> Path:
    """Run `examples/<example>/prepare.py` unless its `ready` files (relative to the example)
    exist and `complete(folder)` holds; fail, naming what to install, when a source is missing.

    `needs` maps "what to install" (e.g. "sudo apt-get install espeak-ng") to whether it is.
    """
    folder = EXAMPLES / example
    if all((folder / name).is_file() for name in ready) and complete(folder):
        return folder
    missing = [hint for hint, ok in needs.items() if not ok]
    if missing:
        pytest.fail(
            f"{example}: cannot prepare its data; install first:\n  " + "\n  ".join(missing),
            pytrace=False,
        )
    result = subprocess.run(
        [sys.executable, str(folder / "prepare.py")], cwd=ROOT, capture_output=True, text=True
    )
    if result.returncode != 0 or not all((folder / n).is_file() for n in ready):
        pytest.fail(
            f"{example}: prepare.py failed (exit {result.returncode}); it needs:\n  "
            + "\n  ".join(needs)
            + f"\nstdout:\n{result.stdout[-2000:]}\nstderr:\n{result.stderr[-2000:]}",
            pytrace=False,
        )
    if not complete(folder):
        pytest.fail(f"{example}: prepare.py ran but its data is incomplete", pytrace=False)
    return folder


def readme_says(readme: Path, line_with: str, claim: str) -> None:
    """The README line containing `line_with` states `claim`: the test checks what it says."""
    lines = [line for line in readme.read_text(encoding="utf-8").splitlines() if line_with in line]
    assert lines, f"{readme.name}: no line mentions {line_with!r}"
    assert any(claim in line for line in lines), (
        f"{readme.name} no longer says {claim!r} next to {line_with!r}: update this test with it"
    )


def readme_text_says(readme: Path, claim: str) -> None:
    """The README's prose (line breaks taken as spaces) states `claim`."""
    text = " ".join(readme.read_text(encoding="utf-8").split())
    assert claim in text, f"{readme.name} no longer says {claim!r}: update this test with it"


def at_least(name: str, measured: float, claimed: float, tolerance: float) -> None:
    """A higher-is-better README figure holds: measured >= claimed - tolerance."""
    assert measured >= claimed - tolerance, (
        f"{name}: measured {measured:.4f}, README says {claimed} (tolerance {tolerance})"
    )


def at_most(name: str, measured: float, claimed: float, tolerance: float) -> None:
    """A lower-is-better README figure holds: measured <= claimed + tolerance."""
    assert measured <= claimed + tolerance, (
        f"{name}: measured {measured:.4f}, README says {claimed} (tolerance {tolerance})"
    )


def near(name: str, measured: float, claimed: float, tolerance: float) -> None:
    """A README figure that is neither a floor nor a ceiling (a baseline, a count)."""
    assert abs(measured - claimed) <= tolerance, (
        f"{name}: measured {measured:.4f}, README says {claimed} (tolerance {tolerance})"
    )
