"""The results of examples/speech_to_text/README.md (and its row in README.md), by its commands.

About 6-10 minutes on 2 cores (prepare ~30 s, training 12 epochs). Needs the Debian package
espeak-ng.

Tolerances: ~1,350 words in the digit-string test set and ~600 in the commands; a model trained
on another CPU (other float summation order, other SpecAugment draws there) lands within about
0.01 WER on digit strings and 0.015 on commands (9 words); CER within 0.005.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.slow.helpers import (
    EXAMPLES,
    README,
    at_most,
    modelyard,
    on_path,
    prepare,
    read_json,
    readme_says,
    readme_text_says,
    train,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2 * 3600)]
SPEECH = EXAMPLES / "speech_to_text"
SPEECH_README = SPEECH / "README.md"


@pytest.fixture(scope="module")
def data() -> Path:
    return (
        prepare(
            "speech_to_text",
            ["data/train.csv", "data/validation.csv", "data/test.csv", "data/test_commands.csv"],
            needs={"sudo apt-get install espeak-ng": on_path("espeak-ng")},
        )
        / "data"
    )


@pytest.fixture(scope="module")
def model(data, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "speech_to_text"
    train(SPEECH / "config.yaml", run)
    return run


def _evaluate(model: Path, data: Path, name: str) -> dict:
    """`modelyard evaluate RUN --data examples/speech_to_text/data/NAME --out ...`."""
    out = model.parent / f"{name}.json"
    modelyard(
        "evaluate", str(model), "--data", str(data / name), "--out", str(out), cwd=model.parent
    )
    return read_json(out)


def test_split_sizes(data):
    for split, digits, commands in (
        ("train", 1408, 704),
        ("validation", 256, 128),
        ("test", 384, 192),
    ):
        readme_text_says(SPEECH_README, f"| {split} | {digits:,} | {commands:,} |")
        kinds = pd.read_csv(data / f"{split}.csv")["kind"].value_counts().to_dict()
        assert kinds == {"digits": digits, "commands": commands}, (split, kinds)


def test_wer_on_digit_strings(model, data):
    readme_says(README, "`examples/speech_to_text`", "WER 0.018 digit strings, 0.070 commands")
    readme_says(SPEECH_README, "| digit strings (384) |", "| **0.018** | 0.005 |")
    metrics = _evaluate(model, data, "test_digits.csv")
    at_most("digit strings WER", metrics["wer"], 0.018, 0.01)
    at_most("digit strings CER", metrics["cer"], 0.005, 0.005)


def test_wer_on_commands(model, data):
    readme_says(SPEECH_README, "| commands (192) |", "| 0.070 | 0.018 |")
    metrics = _evaluate(model, data, "test_commands.csv")
    at_most("commands WER", metrics["wer"], 0.070, 0.015)
    at_most("commands CER", metrics["cer"], 0.018, 0.005)


def test_wer_on_all_test_and_validation(model):
    readme_says(SPEECH_README, "| all test (576) |", "| 0.033 | 0.009 |")
    readme_says(SPEECH_README, "| validation (384, beam 4) |", "| 0.022 | 0.005 |")
    metrics = read_json(model / "metrics.json")
    at_most("test WER", metrics["test"]["wer"], 0.033, 0.01)
    at_most("test CER", metrics["test"]["cer"], 0.009, 0.005)
    at_most("validation WER (beam 4)", metrics["validation"]["wer"], 0.022, 0.01)
    at_most("validation CER (beam 4)", metrics["validation"]["cer"], 0.005, 0.005)


def test_beam_search_beats_greedy_decoding(model):
    readme_text_says(
        SPEECH_README,
        "Validation WER with greedy decoding after the last epoch was 0.051; prefix beam search (beam 4) brought it to 0.022",
    )
    greedy = pd.read_csv(model / "history.csv")["validation_wer"].iloc[-1]
    beam = read_json(model / "metrics.json")["validation"]["wer"]
    at_most("validation WER, greedy after the last epoch", greedy, 0.051, 0.015)
    assert beam < greedy, f"beam search {beam:.4f} should beat greedy {greedy:.4f}"
