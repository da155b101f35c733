"""`modelyard serve`: a FastAPI app over a trained run.

POST /predict         {"records": [{<input name>: value, ...}, ...]} -> {"predictions": [...]}
POST /predict/files   one record as multipart form fields, image/audio inputs as file parts
GET  /health          liveness, no key needed
GET  /metadata        inputs, outputs, classes, metrics, versions
GET  /docs            OpenAPI docs (FastAPI's)

Image and audio inputs arrive as base64 strings (JSON) or files (multipart); they are written
to a temporary folder for the length of the request, because the run's preprocessing reads files.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at run time.

import base64
import binascii
import json
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, create_model

from modelyard.errors import UserError
from modelyard.serve.batching import Batcher

FILE_TYPES = ("image", "audio")
VALUE_TYPES: dict[str, Any] = {
    "number": float | None,
    "category": str | int | float | bool | None,
    "binary": str | int | float | bool | None,
    "text": str | list[str] | None,
    "image": str,
    "audio": str,
}


def create_app(
    model,
    *,
    max_batch_size: int = 32,
    max_wait_ms: float = 5.0,
    max_request_bytes: int = 10 * 2**20,
    api_key: str | None = None,
) -> FastAPI:
    """The app for a loaded `api.Model`. `api_key`: when set, /predict and /metadata need the
    header `X-API-Key: <key>`."""
    config = model.config
    request_model = _request_model(config)
    batcher = Batcher(lambda frame: model.predict(frame, ids=False), max_batch_size, max_wait_ms)
    app = FastAPI(
        title=f"modelyard: {config.name}",
        description="Predictions of a modelyard run. Inputs: "
        + ", ".join(f"{f.name} ({f.type})" for f in config.inputs),
    )
    app.state.batcher = batcher
    guard = _key_guard(api_key)

    @app.middleware("http")
    async def limit_size(request: Request, call_next):
        if request.method == "POST":
            declared = request.headers.get("content-length")
            if declared is None:
                return JSONResponse({"detail": "send a Content-Length header"}, status_code=411)
            if int(declared) > max_request_bytes:
                return JSONResponse(
                    {
                        "detail": f"the request is {int(declared):,} bytes; the limit is {max_request_bytes:,} (modelyard serve --max-request-mb)"
                    },
                    status_code=413,
                )
        return await call_next(request)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metadata", dependencies=[Depends(guard)])
    async def metadata() -> dict[str, Any]:
        return describe(model, batcher)

    @app.post("/predict", dependencies=[Depends(guard)])
    async def predict(payload: request_model) -> dict[str, list[dict[str, Any]]]:  # type: ignore[valid-type]
        records = [r.model_dump(by_alias=True) for r in payload.records]
        with tempfile.TemporaryDirectory(prefix="modelyard-serve-") as folder:
            frame = _frame(config, records, Path(folder))
            return {"predictions": await _predictions(batcher, frame)}

    @app.post("/predict/files", dependencies=[Depends(guard)])
    async def predict_files(request: Request) -> dict[str, list[dict[str, Any]]]:
        """One record as multipart/form-data: a field per input; image/audio inputs as files."""
        form = await request.form()
        with tempfile.TemporaryDirectory(prefix="modelyard-serve-") as folder:
            record = {}
            for f in config.inputs:
                value = form.get(f.name)
                if value is None:
                    _invalid(["body", f.name], "Field required")
                if f.type in FILE_TYPES:
                    if isinstance(value, str):
                        _invalid(["body", f.name], f"send {f.type} input '{f.name}' as a file")
                    path = Path(folder) / f"{f.name}{Path(value.filename or '').suffix}"
                    path.write_bytes(await value.read())
                    record[f.column or f.name] = str(path)
                else:
                    record[f.column or f.name] = value
            extra = sorted(set(form) - {f.name for f in config.inputs})
            if extra:
                _invalid(["body", extra[0]], "not an input of this model")
            frame = pd.DataFrame([record])
            for f in config.inputs:
                if f.type == "number":
                    frame[f.column or f.name] = pd.to_numeric(
                        frame[f.column or f.name], errors="coerce"
                    )
            return {"predictions": await _predictions(batcher, frame)}

    return app


async def _predictions(batcher: Batcher, frame: pd.DataFrame) -> list[dict[str, Any]]:
    try:
        predictions = await batcher(frame)
    except UserError as e:
        _invalid(["body", "records"], str(e))
    return json.loads(predictions.to_json(orient="records"))


def _invalid(location: list[Any], message: str):
    """A 422 shaped like FastAPI's own validation errors."""
    raise HTTPException(
        status_code=422, detail=[{"loc": location, "msg": message, "type": "value_error"}]
    )


def _request_model(config) -> type[BaseModel]:
    """{"records": [Record, ...]}; a Record has exactly the model's inputs, by name."""
    fields: dict[str, Any] = {
        f"input_{i}": (
            VALUE_TYPES[f.type],
            Field(
                ...,
                alias=f.name,
                description=f"{f.type} input"
                + (" as a base64 string" if f.type in FILE_TYPES else ""),
            ),
        )
        for i, f in enumerate(config.inputs)
    }
    record = create_model("Record", __config__=ConfigDict(extra="forbid"), **fields)
    return create_model("PredictRequest", records=(list[record], Field(min_length=1)))


def _frame(config, records: list[dict[str, Any]], folder: Path) -> pd.DataFrame:
    """Records -> a table with the run's column names; base64 files written to `folder`."""
    rows = []
    for i, record in enumerate(records):
        row = {}
        for f in config.inputs:
            value = record[f.name]
            if f.type in FILE_TYPES:
                value = _write_file(value, folder / f"{i}-{f.name}", ["body", "records", i, f.name])
            row[f.column or f.name] = value
        rows.append(row)
    return pd.DataFrame(rows)


def _write_file(encoded: str, path: Path, location: list[Any]) -> str:
    try:
        data = base64.b64decode(encoded.split(",", 1)[-1], validate=True)  # data: URLs too
    except (binascii.Error, ValueError):
        _invalid(location, "not a valid base64 string")
    if not data:
        _invalid(location, "empty file")
    path.write_bytes(data)
    return str(path)


def _key_guard(api_key: str | None):
    async def guard(request: Request) -> None:
        if api_key is None:
            return
        given = request.headers.get("x-api-key", "")
        if not secrets.compare_digest(given.encode(), api_key.encode()):
            raise HTTPException(status_code=401, detail="missing or wrong X-API-Key header")

    return guard


def describe(model, batcher: Batcher) -> dict[str, Any]:
    """What /metadata says: enough for a client to build requests and read predictions."""
    import fastapi
    import torch

    import modelyard

    outputs = []
    for feature in model.preprocessing.outputs:
        entry: dict[str, Any] = {"name": feature.name, "type": feature.type}
        if feature.type == "category":
            entry["classes"] = list(feature.vocab)
        elif feature.type == "binary":
            entry["classes"] = list(feature.values)
        outputs.append(entry)
    return {
        "name": model.config.name,
        "inputs": [
            {"name": f.name, "type": f.type, "encoder": f.encoder.type} for f in model.config.inputs
        ],
        "outputs": outputs,
        "metrics": model.metrics,
        "batching": {
            "max_batch_size": batcher.max_batch_size,
            "max_wait_ms": batcher.max_wait * 1000,
            "model_calls": len(batcher.batches),
        },
        "versions": {
            "modelyard": modelyard.__version__,
            "torch": torch.__version__,
            "fastapi": fastapi.__version__,
            "python": sys.version.split()[0],
        },
    }
