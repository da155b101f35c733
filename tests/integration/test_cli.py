"""The command line itself: verbosity flags, a closed output pipe, help texts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.integration.cli_helpers import modelyard

pytestmark = pytest.mark.integration


def test_quiet_train_prints_only_its_metrics(project):
    result = modelyard("train", "config.yaml", "-q", "--set", "trainer.epochs=1", cwd=project)
    assert result.stderr == ""
    assert "validation" in json.loads(result.stdout)


def test_quiet_and_verbose_go_before_or_after_the_verb(project):
    normal = modelyard("validate", "config.yaml", "--config-only", cwd=project)
    assert "config 'config.yaml' is valid" in normal.stderr
    assert modelyard("-q", "validate", "config.yaml", "--config-only", cwd=project).stderr == ""
    verbose = modelyard("validate", "config.yaml", "--config-only", "--verbose", cwd=project)
    assert "is valid" in verbose.stderr
    both = modelyard("validate", "config.yaml", "-q", "-v", cwd=project, check=2)
    assert "not allowed with argument" in both.stderr


def test_help_documents_the_verbosity_flags(tmp_path):
    text = modelyard("train", "--help", cwd=tmp_path).stdout
    assert "-q, --quiet" in text and "-v, --verbose" in text


def test_a_closed_output_pipe_ends_quietly(tmp_path):
    """`modelyard schema | head -c 100`: the schema (70 KB) is more than a pipe holds."""
    process = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "schema"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ},
    )
    assert process.stdout.read(100).startswith(b"{")
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0, stderr
    assert stderr == ""
