"""Serving a trained run over HTTP (FastAPI + uvicorn); see `app.py`."""

from __future__ import annotations

import errno
import os
import socket
import sys
from functools import partial

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(
    run: str,
    host: str,
    port: int,
    max_batch_size: int,
    max_wait_ms: float,
    max_request_mb: float,
    api_key_env: str,
) -> None:
    """Load the run and serve it until interrupted."""
    import uvicorn

    from modelyard.api import Model
    from modelyard.serve.app import create_app

    _check_limits(max_batch_size, max_wait_ms, max_request_mb)
    listening = _listen(host, port)
    model = Model.load(run)
    model.require("serve", "serve")
    api_key = os.environ.get(api_key_env) or None
    factory = getattr(
        model, "create_app", None
    )  # a run with its own endpoints (recommendation, link prediction)
    app = (factory or partial(create_app, model))(
        max_batch_size=max_batch_size,
        max_wait_ms=max_wait_ms,
        max_request_bytes=int(max_request_mb * 2**20),
        api_key=api_key,
    )
    where = (
        "loopback only: other machines cannot reach it; --host 0.0.0.0 exposes it"
        if host in LOOPBACK
        else "reachable from other machines"
    )
    key = f"requests need X-API-Key (from ${api_key_env})" if api_key else "no API key"
    print(f"serving {run} on http://{host}:{port} ({where}; {key}); docs at /docs", file=sys.stderr)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    server.run(sockets=[listening])


def _check_limits(max_batch_size: int, max_wait_ms: float, max_request_mb: float) -> None:
    from modelyard.errors import UserError

    if max_batch_size < 1:
        raise UserError(f"--max-batch-size {max_batch_size}: use 1 or more")
    if not 0 <= max_wait_ms < float("inf"):  # NaN too
        raise UserError(f"--max-wait-ms {max_wait_ms}: use 0 or more milliseconds")
    if not 0 < max_request_mb < float("inf"):
        raise UserError(f"--max-request-mb {max_request_mb}: use a size above 0")


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port), before anything is announced: a port in use or a host
    that is not this machine's is the user's to change. uvicorn serves on this very socket."""
    from modelyard.errors import UserError

    if not 1 <= port <= 65535:
        raise UserError(f"--port {port}: use a port number from 1 to 65535")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as e:
        raise UserError(f"--host '{host}' is not a known address ({e.strerror})") from None
    listening = socket.socket(family, kind, proto)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    try:
        listening.bind(address)
    except OSError as e:
        listening.close()
        if e.errno == errno.EADDRINUSE:
            raise UserError(f"port {port} is in use; choose another with --port") from None
        if e.errno in (errno.EACCES, errno.EADDRNOTAVAIL):
            raise UserError(f"cannot listen on {host}:{port} ({e.strerror})") from None
        raise
    return listening
