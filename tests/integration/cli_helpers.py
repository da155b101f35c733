"""Running the `modelyard` command as a user would, and reading what it printed.

`modelyard(...)` runs the command's `main` in this process (argv, working directory,
environment, stdout and stderr, warnings all as a fresh process would have them): a
subprocess costs seconds of imports per call, which made these tests too slow to run on
every change. Tests of what only a real process shows (signals, exit at interpreter end,
`python -m`, pipes, torchrun) call `subprocess` themselves. `MODELYARD_TEST_SUBPROCESS=1`
runs every call in a subprocess instead, to check that nothing here hides a difference.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import warnings
from pathlib import Path


def modelyard(
    *args: str, cwd: Path, check: int | None = 0, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run `modelyard ARGS` in `cwd`; assert the exit code when `check` is given."""
    run = _in_subprocess if os.environ.get("MODELYARD_TEST_SUBPROCESS") else _in_process
    result = run(list(args), cwd, env or {})
    if check is not None:
        assert result.returncode == check, (
            f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def _in_subprocess(args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "modelyard", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
    )


def _in_process(args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    from modelyard.cli import main

    out, err = io.StringIO(), io.StringIO()
    with _fresh_process_state(cwd, env), _redirected(out, err):
        try:
            code = main(args)
        except SystemExit as e:  # argparse's usage errors and --help
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return subprocess.CompletedProcess(["modelyard", *args], code, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def _redirected(out: io.StringIO, err: io.StringIO):
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        yield


@contextlib.contextmanager
def _fresh_process_state(cwd: Path, env: dict):
    """Working directory, environment, warnings and torch's thread count as a new process has
    them; restored after."""
    import torch

    saved_cwd, saved_env = os.getcwd(), dict(os.environ)
    saved_threads = torch.get_num_threads()  # a streamed run lowers it (data/memory.py)
    os.chdir(cwd)
    os.environ.update(env)
    try:
        with warnings.catch_warnings():
            warnings.resetwarnings()  # pytest's capture would hide from stderr what users see
            for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning):
                warnings.simplefilter("ignore", category)  # Python's defaults, as in a new process
            warnings.simplefilter("ignore", ResourceWarning)
            warnings.showwarning = _warning_to_stderr
            yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        torch.set_num_threads(saved_threads)


def _warning_to_stderr(message, category, filename, lineno, file=None, line=None) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def user_error(result: subprocess.CompletedProcess) -> str:
    """The stderr of a run that failed on the user's input: exit 2, `error:`, no traceback."""
    assert result.returncode == 2, result.stderr
    assert any(line.startswith("error: ") for line in result.stderr.splitlines()), result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def no_run_figures(patch) -> None:
    """A run's report.html without its matplotlib figures (learning curves, confusion matrix,
    ROC...), for tests of tools over many runs: drawing them took most of those tests' time,
    and train's own tests cover them. `patch`: a pytest MonkeyPatch."""
    patch.setattr("modelyard.report.plots.learning_curves", lambda history: None)
    patch.setattr("modelyard.report.html._figures", lambda detail: [])
