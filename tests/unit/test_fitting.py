"""What every kind of run shares (fitting.Fitting)."""

from __future__ import annotations

import importlib

import pytest

from modelyard.errors import UserError

KINDS_READING_THEIR_FILES = [
    ("modelyard.detection.model", "ObjectDetector", "object detection reads its box files"),
    ("modelyard.generation.model", "ImageGenerator", "image generation reads its images"),
    ("modelyard.linkpred.model", "LinkPredictor", "link prediction reads its triples"),
    ("modelyard.qa.model", "QuestionAnswerer", "question answering reads its tables"),
    ("modelyard.tts.model", "Synthesizer", "text to speech reads its tables"),
    ("modelyard.vocoder.model", "Vocoder", "a vocoder reads its tables"),
]


@pytest.mark.parametrize(("module", "name", "message"), KINDS_READING_THEIR_FILES)
def test_kinds_that_read_the_configs_files_refuse_data_handed_to_fit(module, name, message):
    kind = getattr(importlib.import_module(module), name)
    model = kind.__new__(kind)  # the refusal comes before anything the constructor sets
    with pytest.raises(UserError, match=f"^{message} from the config .*; fit takes no data$"):
        model.fit([[1, 2]])
