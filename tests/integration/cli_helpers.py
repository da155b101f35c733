"""Running the real `modelyard` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def modelyard(
    *args: str, cwd: Path, check: int | None = 0, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run `python -m modelyard ARGS` in `cwd`; assert the exit code when `check` is given."""
    result = subprocess.run(
        [sys.executable, "-m", "modelyard", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    if check is not None:
        assert result.returncode == check, (
            f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def user_error(result: subprocess.CompletedProcess) -> str:
    """The stderr of a run that failed on the user's input: exit 2, `error:`, no traceback."""
    assert result.returncode == 2, result.stderr
    assert any(line.startswith("error: ") for line in result.stderr.splitlines()), result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr
