"""`modelyard serve` for a question answering run: POST /predict with {question, context}
(or {"records": [{question, context}, ...]}) -> the answer text, its characters in the
context and its score; GET /metadata, /health. The API key and request-size limit work as
for other runs (serve/app.py)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Asked(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1)
    context: str = Field(min_length=1)


class Records(BaseModel):
    model_config = ConfigDict(extra="forbid")
    records: list[Asked] = Field(min_length=1)


def create_qa_app(model, *, max_request_bytes: int, api_key: str | None, **_: Any):
    """The FastAPI app for a loaded `QuestionAnswerer` (each request's questions are answered
    together; the batching options do not apply)."""
    from fastapi import Depends, HTTPException

    from modelyard.errors import UserError
    from modelyard.serve.app import base_app

    app, guard = base_app(
        f"modelyard: {model.config.name}",
        "Extractive question answering: the span of the context that answers the question",
        max_request_bytes,
        api_key,
    )

    @app.get("/metadata", dependencies=[Depends(guard)])
    async def metadata() -> dict[str, Any]:
        return {
            "task": "question_answering",
            "windows": model.config.windows.model_dump(),
            "answers": model.config.answers.model_dump(),
            "metrics": model.metrics,
        }

    @app.post("/predict", dependencies=[Depends(guard)])
    def predict(payload: Asked | Records) -> dict[str, Any]:
        asked = payload.records if isinstance(payload, Records) else [payload]
        try:
            found = model.answer([a.question for a in asked], [a.context for a in asked])
        except UserError as e:
            raise HTTPException(status_code=422, detail=str(e)) from None
        answers = [
            {"answer": a.text, "start": a.start, "end": a.end, "score": a.score} for a in found
        ]
        return answers[0] if isinstance(payload, Asked) else {"predictions": answers}

    return app
