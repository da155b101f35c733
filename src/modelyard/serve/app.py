"""`modelyard serve`: a FastAPI app over a trained run.

POST /predict         {"records": [{<input name>: value, ...}, ...]} -> {"predictions": [...]}
POST /predict/files   one record as multipart form fields, image/audio inputs as file parts
GET  /health          liveness, no key needed
GET  /metadata        inputs, outputs, classes, metrics, versions
GET  /docs            OpenAPI docs (Swagger UI, served from the installed fastapi-offline package)

Image and audio inputs arrive as base64 strings (JSON) or files (multipart); they are written
to a temporary folder for the length of the request, because the run's preprocessing reads files.
Every value is checked against its input before the model runs (`check_value`): a 422 names the
field of an ill-typed value; `null` (or an empty form field) is a missing value, accepted only
where the input's `missing` setting fills missing values.

What an input accepts is its fitted preprocessor's to say (modelyard.data.features): the JSON
types (`request_type`), whether the value is a file (`from_file`), a check of a present value
(`check_request_value`) and how a form field's text becomes a value (`parse_form_field`).
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at run time.

import base64
import binascii
import json
import math
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from modelyard.errors import UserError
from modelyard.serve.batching import Batcher

FILLING = {"fill_mean", "fill_median", "fill_value", "unknown", "fill_mode", "fill_empty"}
ASSETS = "/docs-assets"  # Swagger UI's script and styles, from the installed package


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
    fitted = {f.name: f for f in model.preprocessing.inputs}
    sensitive = _sensitive_columns(model)
    request_model = _request_model(config, fitted, sensitive)
    batcher = Batcher(lambda frame: model.predict(frame, ids=False), max_batch_size, max_wait_ms)
    app, guard = base_app(
        f"modelyard: {config.name}",
        "Predictions of a modelyard run. Inputs: "
        + ", ".join(f"{f.name} ({f.type})" for f in config.inputs),
        max_request_bytes,
        api_key,
    )
    app.state.batcher = batcher

    @app.get("/metadata", dependencies=[Depends(guard)])
    async def metadata() -> dict[str, Any]:
        return describe(model, batcher)

    @app.post("/predict", dependencies=[Depends(guard)])
    async def predict(payload: request_model) -> dict[str, list[dict[str, Any]]]:  # type: ignore[valid-type]
        records = [r.model_dump(by_alias=True) for r in payload.records]
        with tempfile.TemporaryDirectory(prefix="modelyard-serve-") as folder:
            frame = _frame(config, fitted, records, Path(folder), sensitive)
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
                if fitted[f.name].from_file:
                    if isinstance(value, str):
                        _invalid(["body", f.name], f"send {f.type} input '{f.name}' as a file")
                    path = Path(folder) / f"{f.name}{Path(value.filename or '').suffix}"
                    path.write_bytes(await value.read())
                    record[f.column or f.name] = str(path)
                else:
                    record[f.column or f.name] = _form_value(f, fitted[f.name], value)
            for column in sensitive:
                if form.get(column) is None:
                    _invalid(["body", column], "Field required (a sensitive column)")
                record[column] = form.get(column)
            extra = sorted(set(form) - {f.name for f in config.inputs} - set(sensitive))
            if extra:
                _invalid(["body", extra[0]], "not an input of this model")
            frame = pd.DataFrame([record])
            return {"predictions": await _predictions(batcher, frame)}

    return app


def base_app(title: str, description: str, max_request_bytes: int, api_key: str | None):
    """(app, guard): an app with offline /docs, FastAPI's 422s made JSON-safe, the request
    size limit, GET /health, and `guard`, the dependency that checks X-API-Key."""
    app = FastAPI(title=title, description=description, docs_url=None, redoc_url=None)
    _offline_docs(app)
    app.add_exception_handler(RequestValidationError, _validation_error)

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

    return app, _key_guard(api_key)


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


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """FastAPI's 422, with a NaN or infinite input echoed as a string (JSON has no NaN)."""
    return JSONResponse({"detail": _finite(jsonable_encoder(error.errors()))}, status_code=422)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _offline_docs(app: FastAPI) -> None:
    """/docs with Swagger UI's files served from the installed `fastapi_offline` package: no
    CDN, so the page works behind a firewall."""
    import fastapi_offline

    assets = Path(fastapi_offline.__file__).parent / "static"
    app.mount(ASSETS, StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - docs",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
        )


def check_value(config, fitted, value: Any) -> Any:
    """`value` for input `config` (its fitted preprocessor `fitted`), or ValueError saying why
    not. None or a blank string is a missing value."""
    if value is None or (isinstance(value, str) and not value.strip()):
        policy = getattr(config.preprocessing, "missing", "error")
        if policy not in FILLING:
            raise ValueError(
                f"a value is required: input '{config.name}' has missing: {policy}, so a missing value cannot be filled"
            )
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value} is not a value; send a number, or null for a missing value")
    fitted.check_request_value(value)
    return value


def _form_value(config, fitted, value: Any) -> Any:
    """A multipart field's string as the input's value (a float for a number), checked."""
    location = ["body", config.name]
    if not isinstance(value, str):
        _invalid(location, f"send '{config.name}' as a form field, not a file")
    try:
        return check_value(config, fitted, fitted.parse_form_field(value))
    except ValueError as e:
        _invalid(location, str(e))


def _record_value(config, fitted) -> Any:
    """The pydantic type of one input's value: its JSON types (null only where `missing` fills
    missing values), checked by `check_value`."""
    kind = fitted.request_type
    if getattr(config.preprocessing, "missing", "error") in FILLING:
        kind = kind | None
    return Annotated[kind, AfterValidator(lambda value: check_value(config, fitted, value))]


def _sensitive_columns(model) -> list[str]:
    """The columns a fairness mitigation reads (model/fairness.json) that no input reads:
    each record needs them too."""
    if getattr(model, "mitigation", None) is None:
        return []
    read = {f.column or f.name for f in model.config.inputs}
    return [c for c in model.mitigation["sensitive"] if c not in read]


def _request_model(config, fitted: dict[str, Any], sensitive: list[str] = ()) -> type[BaseModel]:
    """{"records": [Record, ...]}; a Record has exactly the model's inputs, by name, and the
    sensitive columns its fairness mitigation reads that are not inputs."""
    fields: dict[str, Any] = {
        f"input_{i}": (
            _record_value(f, fitted[f.name]),
            Field(
                ...,
                alias=f.name,
                description=f"{f.type} input"
                + (" as a base64 string" if fitted[f.name].from_file else ""),
            ),
        )
        for i, f in enumerate(config.inputs)
    }
    for i, column in enumerate(sensitive):
        fields[f"sensitive_{i}"] = (
            str | int | float | bool | None,
            Field(..., alias=column, description="sensitive column (evaluation.mitigation)"),
        )
    record = create_model("Record", __config__=ConfigDict(extra="forbid"), **fields)
    return create_model("PredictRequest", records=(list[record], Field(min_length=1)))


def _frame(
    config,
    fitted: dict[str, Any],
    records: list[dict[str, Any]],
    folder: Path,
    sensitive: list[str] = (),
) -> pd.DataFrame:
    """Records -> a table with the run's column names (and the `sensitive` columns that are
    no input's); base64 files written to `folder`."""
    rows = []
    for i, record in enumerate(records):
        row = {}
        for f in config.inputs:
            value = record[f.name]
            if fitted[f.name].from_file:
                value = _write_file(value, folder / f"{i}-{f.name}", ["body", "records", i, f.name])
            row[f.column or f.name] = value
        row.update({column: record[column] for column in sensitive})
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
    from modelyard.tasks import task_of

    outputs = []
    for feature in model.preprocessing.outputs:
        entry: dict[str, Any] = {"name": feature.name, "type": feature.type}
        classes = task_of(feature).classes(feature)
        if classes is not None:
            entry["classes"] = classes
        outputs.append(entry)
    return {
        "name": model.config.name,
        "inputs": [
            {"name": f.name, "type": f.type, "encoder": f.encoder.type} for f in model.config.inputs
        ],
        "outputs": outputs,
        "sensitive": _sensitive_columns(model),  # extra record fields a mitigation reads
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
