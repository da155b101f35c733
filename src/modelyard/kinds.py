"""The registry of config kinds (`task:` values other than `supervised`): for each, where its
model class, its config checks and its data check live. One table instead of an `if
config.task == ...` chain in every place that dispatches on the kind; each part is imported
only when a config of that kind is used (so that `modelyard validate` of a table does not
import the speech-synthesis code, say).

A part is written `module:attribute`:
    model         the `Fitting` subclass that trains, saves and loads the kind
    config_checks a list of `check(config) -> [problem, ...]` (config/checks.py's form)
    data_check    `check(config, base) -> [summary line, ...]`, raising UserError on bad data
                  (what `modelyard validate` runs after the config checks)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Kind:
    model: str
    config_checks: str
    data_check: str


KINDS: dict[str, Kind] = {
    "language_model": Kind(
        "modelyard.language_model:LanguageModel",
        "modelyard.config.checks:LM_CHECKS",
        "modelyard.data.check:check_corpus",
    ),
    "recommendation": Kind(
        "modelyard.recommend.model:Recommender",
        "modelyard.recommend.checks:CHECKS",
        "modelyard.recommend.checks:check_interactions",
    ),
    "link_prediction": Kind(
        "modelyard.linkpred.model:LinkPredictor",
        "modelyard.linkpred.checks:CHECKS",
        "modelyard.linkpred.checks:check_triples",
    ),
    "question_answering": Kind(
        "modelyard.qa.model:QuestionAnswerer",
        "modelyard.qa.checks:CHECKS",
        "modelyard.qa.data:check_questions",
    ),
    "object_detection": Kind(
        "modelyard.detection.model:ObjectDetector",
        "modelyard.detection.checks:CHECKS",
        "modelyard.detection.checks:check_box_files",
    ),
    "text_to_speech": Kind(
        "modelyard.tts.model:Synthesizer",
        "modelyard.tts.checks:CHECKS",
        "modelyard.tts.checks:check_clips",
    ),
    "vocoder": Kind(
        "modelyard.vocoder.model:Vocoder",
        "modelyard.vocoder.checks:CHECKS",
        "modelyard.vocoder.checks:check_clips",
    ),
    "image_generation": Kind(
        "modelyard.generation.model:ImageGenerator",
        "modelyard.generation.checks:CHECKS",
        "modelyard.generation.checks:check_images",
    ),
}


def part(task: str, name: str) -> Any:
    """The `name` part (model, config_checks or data_check) of the kind `task`, imported."""
    module, attribute = getattr(KINDS[task], name).split(":")
    return getattr(importlib.import_module(module), attribute)
