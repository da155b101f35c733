"""Serving a trained run over HTTP (FastAPI + uvicorn); see `app.py`."""

from __future__ import annotations

import os
import sys

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
    from modelyard.errors import UserError
    from modelyard.serve.app import create_app

    model = Model.load(run)
    if not hasattr(model, "preprocessing"):
        raise UserError("serve needs a supervised run; a language model has no /predict")
    if max_batch_size < 1 or max_wait_ms < 0 or max_request_mb <= 0:
        raise UserError("serve: --max-batch-size >= 1, --max-wait-ms >= 0, --max-request-mb > 0")
    api_key = os.environ.get(api_key_env) or None
    app = create_app(
        model,
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
    uvicorn.run(app, host=host, port=port, log_level="warning")
