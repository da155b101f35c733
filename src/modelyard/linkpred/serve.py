"""`modelyard serve` for a link prediction run: POST /predict with (h, r, ?) / (?, r, t)
queries -> the top-K entities of each (LinkPredictor.predict_links), GET /metadata, /health.
The API key and request-size limit work as for other runs (serve/app.py)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Query(BaseModel):
    """One query: the relation and either the head (asks for the tail) or the tail."""

    model_config = ConfigDict(extra="forbid")
    head: str | None = None
    relation: str
    tail: str | None = None


class Queries(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queries: list[Query] = Field(min_length=1)
    k: int = Field(10, ge=1)
    exclude_known: bool = False


def create_link_app(model, *, max_request_bytes: int, api_key: str | None, **_: Any):
    """The FastAPI app for a loaded `LinkPredictor` (batching options do not apply: each
    request's queries are scored together)."""
    import pandas as pd
    from fastapi import Depends, HTTPException

    from modelyard.errors import UserError
    from modelyard.serve.app import base_app

    app, guard = base_app(
        f"modelyard: {model.config.name}",
        "Link prediction: the missing head or tail of (h, r, ?) / (?, r, t) queries",
        max_request_bytes,
        api_key,
    )

    @app.get("/metadata", dependencies=[Depends(guard)])
    async def metadata() -> dict[str, Any]:
        return {
            "task": "link_prediction",
            "model": model.config.model.type,
            "entities": len(model.entity_ids),
            "relations": model.relation_ids.tolist(),
            "metrics": model.metrics,
        }

    @app.post("/predict", dependencies=[Depends(guard)])
    def predict(payload: Queries) -> dict[str, list[dict[str, Any]]]:
        asked = pd.DataFrame([q.model_dump() for q in payload.queries])
        try:
            table = model.predict_links(asked, payload.k, payload.exclude_known)
        except UserError as e:
            raise HTTPException(status_code=422, detail=str(e)) from None
        return {"predictions": table.to_dict(orient="records")}

    return app
