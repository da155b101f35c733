"""`modelyard serve` for a text-to-speech run: POST /synthesize with {text, speaker?, speed?}
-> audio/wav (16-bit mono at the model's sample rate); GET /metadata, /health. The API key and
request-size limit work as for other runs (serve/app.py). The vocoder is `serve`'s default
(the run's evaluation.vocoder)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Said(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=2000)
    speaker: str | None = None
    speed: float = Field(default=1.0, gt=0, le=4)


def create_tts_app(model, *, max_request_bytes: int, api_key: str | None, **_: Any):
    """The FastAPI app for a loaded `Synthesizer` (one request, one sentence)."""
    from fastapi import Depends, HTTPException, Response

    from modelyard.errors import UserError
    from modelyard.serve.app import base_app
    from modelyard.tts.vocoding import get_vocoder, wav_bytes

    app, guard = base_app(
        f"modelyard: {model.config.name}",
        "Speech synthesis: POST /synthesize {text, speaker} -> WAV audio",
        max_request_bytes,
        api_key,
    )
    vocoder = get_vocoder(model.config.evaluation.vocoder, model.base_dir)

    @app.get("/metadata", dependencies=[Depends(guard)])
    async def metadata() -> dict[str, Any]:
        return {
            "task": "text_to_speech",
            "speakers": model.speakers,
            "front_end": model.front_end.kind,
            "sample_rate": model.scale.sample_rate,
            "metrics": model.metrics,
        }

    @app.post("/synthesize", dependencies=[Depends(guard)], response_class=Response)
    def synthesize(payload: Said) -> Response:
        try:
            wave = model.synthesize(payload.text, payload.speaker, vocoder, payload.speed)[0]
        except UserError as e:
            raise HTTPException(status_code=422, detail=str(e)) from None
        return Response(wav_bytes(wave, model.scale.sample_rate), media_type="audio/wav")

    return app
