"""`modelyard serve` as a real server process on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
import yaml

from tests.conftest import make_table, tiny_config
from tests.integration.cli_helpers import modelyard, user_error

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(url: str, seconds: float = 30) -> None:
    """Poll `url`/health until the server answers 200 (or `seconds` have passed)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.25)


def test_serve_answers_on_loopback_and_says_so(tmp_path):
    make_table().to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(tiny_config(epochs=1)), encoding="utf-8")
    modelyard("train", "config.yaml", "--output", "run", cwd=tmp_path)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "serve", "run", "--port", str(port)],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MODELYARD_API_KEY": "k"},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(url)
        record = make_table(rows=1)[["x1", "x2", "colour", "flag", "review"]].to_dict("records")
        response = httpx.post(
            f"{url}/predict", json={"records": record}, headers={"X-API-Key": "k"}
        )
        assert response.status_code == 200
        assert response.json()["predictions"][0]["label_prediction"] in ("yes", "no")
        assert httpx.get(f"{url}/openapi.json").json()["paths"]["/predict"]
    finally:
        server.terminate()
        stderr = server.communicate(timeout=30)[1]
    assert f"http://127.0.0.1:{port}" in stderr and "loopback only" in stderr
    assert "X-API-Key" in stderr


def test_serve_refuses_a_missing_run(tmp_path):
    assert "nowhere" in user_error(modelyard("serve", "nowhere", cwd=tmp_path, check=None))


def test_a_port_in_use_is_a_user_error_before_anything_is_announced(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = user_error(modelyard("serve", "run", "--port", str(port), cwd=tmp_path, check=None))
    assert f"port {port} is in use; choose another with --port" in busy
    assert "serving" not in busy


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--port", "70000"], "--port 70000"),
        (["--max-batch-size", "0"], "--max-batch-size 0"),
        (["--max-wait-ms", "-1"], "--max-wait-ms -1"),
        (["--max-request-mb", "0"], "--max-request-mb 0"),
        (["--host", "no-such-host.invalid"], "--host 'no-such-host.invalid'"),
    ],
)
def test_bad_serve_arguments_are_user_errors(tmp_path, capsys, args, expected):
    from modelyard.cli import main

    assert main(["serve", str(tmp_path / "run"), *args]) == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith("error: ") and expected in stderr and "Traceback" not in stderr
