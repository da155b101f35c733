"""`modelyard serve` for an object detection run:

POST /predict         {"image": "<base64 image file>"} or {"records": [{"image": ...}, ...]}
POST /predict/files   an uploaded image file (multipart field `image`)
GET  /metadata, /health

Each image's answer: {"boxes": [{x1, y1, x2, y2, label, score}, ...]}, pixel edges of the
image as sent (x2, y2 exclusive), boxes scoring at least detections.min_score, best first.
The API key and request-size limit work as for other runs (serve/app.py).
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at run time.

import base64
import binascii
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Picture(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image: str = Field(min_length=1, description="the image file's bytes, base64")


class Pictures(BaseModel):
    model_config = ConfigDict(extra="forbid")
    records: list[Picture] = Field(min_length=1)


def create_detection_app(model, *, max_request_bytes: int, api_key: str | None, **_: Any):
    """The FastAPI app for a loaded `ObjectDetector` (each request's images are detected
    together; the batching options do not apply)."""
    from fastapi import Depends, HTTPException, Request

    from modelyard.serve.app import base_app

    app, guard = base_app(
        f"modelyard: {model.config.name}",
        "Object detection: boxes with class and score for each image",
        max_request_bytes,
        api_key,
    )

    @app.get("/metadata", dependencies=[Depends(guard)])
    async def metadata() -> dict[str, Any]:
        return {
            "task": "object_detection",
            "classes": model.classes,
            "image": model.image.state(),
            "detections": model.config.detections.model_dump(),
            "metrics": model.metrics,
        }

    @app.post("/predict", dependencies=[Depends(guard)])
    def predict(payload: Picture | Pictures) -> dict[str, Any]:
        pictures = payload.records if isinstance(payload, Pictures) else [payload]
        try:
            files = [base64.b64decode(p.image, validate=True) for p in pictures]
        except (binascii.Error, ValueError):
            raise HTTPException(status_code=422, detail="image: not base64 text") from None
        answers = _detect(model, files, HTTPException)
        return answers[0] if isinstance(payload, Picture) else {"predictions": answers}

    @app.post("/predict/files", dependencies=[Depends(guard)])
    async def predict_files(request: Request) -> dict[str, Any]:
        form = await request.form()
        upload = form.get("image")
        if upload is None or isinstance(upload, str):
            raise HTTPException(status_code=422, detail="send the image as a file field 'image'")
        return _detect(model, [await upload.read()], HTTPException)[0]

    return app


def _detect(model, files: list[bytes], http_error) -> list[dict[str, Any]]:
    """Each file's boxes, best first; an unreadable image is a 422."""
    from modelyard.errors import UserError

    with tempfile.TemporaryDirectory(prefix="modelyard-serve-") as folder:
        paths = []
        for i, content in enumerate(files):
            path = Path(folder) / f"image-{i}"
            path.write_bytes(content)
            paths.append(str(path))
        try:
            rows = model.detect(paths)
        except UserError as e:
            raise http_error(status_code=422, detail=str(e).replace(folder + "/", "")) from None
    answers = [{"boxes": []} for _ in files]
    for row in rows.itertuples(index=False):
        index = paths.index(row.image)
        box = {k: getattr(row, k) for k in ("x1", "y1", "x2", "y2", "label", "score")}
        answers[index]["boxes"].append({k: v if k == "label" else float(v) for k, v in box.items()})
    return answers
