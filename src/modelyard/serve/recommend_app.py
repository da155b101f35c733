"""`modelyard serve` for a recommendation run (task: recommendation).

POST /recommend  {"user": "42" | "users": [...], "k": 10, "include_seen": false,
                  "fallback": null | "popular"}
                 -> {"recommendations": [{"user", "items": [{"item", "score"}, ...],
                     "seen_excluded", "source": "model" | "popular"}, ...]}
POST /similar    {"item": "i1" | "items": [...], "k": 10}
                 -> {"similar": [{"item", "items": [{"item", "similarity"}, ...]}, ...]}
POST /predict    {"pairs": [{"user", "item"}, ...]}
                 -> {"predictions": [{"user", "item", "rating_prediction" | "score"}, ...]}
GET  /health, GET /metadata (name, task, model type, objective, counts, metrics, versions),
GET  /docs

Ids are text (a JSON number is taken as its text). An unknown user (without `fallback`),
item or pair is a 422 whose message says how many were unknown, as the CLI's error does.
Requests run in FastAPI's thread pool; each is one chunked call of the model (no batching
across requests: a request names its users, items or pairs in bulk).
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at run time.

import json
import sys
from typing import Any, Literal

import pandas as pd
from fastapi import Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field, model_validator

from modelyard.errors import UserError
from modelyard.serve.app import base_app

Id = str | int


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecommendRequest(_Request):
    user: Id | None = None
    users: list[Id] | None = Field(None, min_length=1)
    k: int = Field(10, ge=1)
    include_seen: bool = False
    fallback: Literal["popular"] | None = None

    @model_validator(mode="after")
    def _one_of(self):
        if (self.user is None) == (self.users is None):
            raise ValueError("give either 'user' (one id) or 'users' (a list of ids)")
        return self


class SimilarRequest(_Request):
    item: Id | None = None
    items: list[Id] | None = Field(None, min_length=1)
    k: int = Field(10, ge=1)

    @model_validator(mode="after")
    def _one_of(self):
        if (self.item is None) == (self.items is None):
            raise ValueError("give either 'item' (one id) or 'items' (a list of ids)")
        return self


class Pair(_Request):
    user: Id
    item: Id


class PredictRequest(_Request):
    pairs: list[Pair] = Field(min_length=1)


def create_recommend_app(
    model, *, max_request_bytes: int = 10 * 2**20, api_key: str | None = None, **_batching: Any
):
    """The app for a loaded Recommender. `api_key`: when set, every endpoint but /health
    needs `X-API-Key: <key>`. Batching options of the supervised app are accepted and unused."""
    config = model.config
    app, guard = base_app(
        f"modelyard: {config.name}",
        f"Recommendations of a modelyard run: {config.model.type}, objective {config.model.objective}.",
        max_request_bytes,
        api_key,
    )
    secured = [Depends(guard)]

    @app.get("/metadata", dependencies=secured)
    def metadata() -> dict[str, Any]:
        return describe(model)

    @app.post("/recommend", dependencies=secured)
    def recommend(payload: RecommendRequest) -> dict[str, Any]:
        users = list(dict.fromkeys(str(u) for u in (payload.users or [payload.user])))
        with _as_422("users" if payload.users else "user"):
            table = model.recommend(users, payload.k, payload.include_seen, payload.fallback)
        return {"recommendations": _grouped(table, "user", ["item", "score"], users)}

    @app.post("/similar", dependencies=secured)
    def similar(payload: SimilarRequest) -> dict[str, Any]:
        items = list(dict.fromkeys(str(i) for i in (payload.items or [payload.item])))
        with _as_422("items" if payload.items else "item"):
            table = model.similar_items(items, payload.k)
        table = table.drop(columns="rank").rename(columns={"similar_item": "similar"})
        found = _grouped(table, "item", ["similar", "similarity"], items)
        for entry in found:
            entry["items"] = [
                {"item": i["similar"], "similarity": i["similarity"]} for i in entry["items"]
            ]
        return {"similar": found}

    @app.post("/predict", dependencies=secured)
    def predict(payload: PredictRequest) -> dict[str, Any]:
        settings = config.data
        frame = pd.DataFrame(
            {
                settings.user: [str(p.user) for p in payload.pairs],
                settings.item: [str(p.item) for p in payload.pairs],
            }
        )
        with _as_422("pairs"):
            table = model.predict(frame)
        table = table.rename(columns={settings.user: "user", settings.item: "item"})
        return {"predictions": json.loads(table.to_json(orient="records"))}

    return app


class _as_422:
    """Turns a UserError (an unknown id, a bad k) into a 422 naming the request field."""

    def __init__(self, field: str):
        self.field = field

    def __enter__(self):
        return self

    def __exit__(self, kind, error, trace):
        if isinstance(error, UserError):
            message = str(error).replace("the DataFrame given to predict: ", "")
            raise HTTPException(
                status_code=422,
                detail=[{"loc": ["body", self.field], "msg": message, "type": "value_error"}],
            ) from None
        return False


def _grouped(table: pd.DataFrame, key: str, columns: list[str], order: list[str]) -> list[dict]:
    """One entry per id of `order` (in order): {key: id, "items": [{columns}...], and the
    per-row flags seen_excluded / source when the table has them}."""
    records = json.loads(table.to_json(orient="records"))  # NaN score -> null
    by_id: dict[str, list[dict]] = {}
    for record in records:
        by_id.setdefault(str(record[key]), []).append(record)
    found = []
    for given in dict.fromkeys(order):
        rows = by_id.get(given, [])
        entry: dict[str, Any] = {key: given, "items": [{c: r[c] for c in columns} for r in rows]}
        for flag in ("seen_excluded", "source"):
            if flag in table.columns:
                entry[flag] = rows[0][flag] if rows else None
        if "seen_excluded" in table.columns and "source" not in table.columns:
            entry["source"] = "model"
        found.append(entry)
    return found


def describe(model) -> dict[str, Any]:
    """What /metadata says."""
    import fastapi
    import torch

    import modelyard

    config = model.config
    return {
        "name": config.name,
        "task": "recommendation",
        "model": {"type": config.model.type, "objective": config.model.objective},
        "users": len(model.user_ids),
        "items": len(model.item_ids),
        "rating_scale": config.data.rating_scale,
        "prediction": "score" if model.ranking else "rating_prediction",
        "metrics": model.metrics,
        "versions": {
            "modelyard": modelyard.__version__,
            "torch": torch.__version__,
            "fastapi": fastapi.__version__,
            "python": sys.version.split()[0],
        },
    }
