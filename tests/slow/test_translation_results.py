"""The results of examples/translation/README.md (and its row in README.md), by its commands.

About 7 minutes on 2 cores (8 epochs of 45-50 s, then beam search). Needs the Debian packages
libsword-utils, sword-text-kjv, sword-text-sparv (the verse pairs) and apertium-eng-spa (the
baseline).

Tolerances: corpus BLEU and chrF over 329 verses; the Transformer trained on another CPU (other
float summation order; bf16 autocast emulated where the CPU lacks it) lands within about 1
point of both. Apertium is deterministic: the README's rounding only, for its stated version.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.slow.helpers import (
    EXAMPLES,
    README,
    at_least,
    near,
    on_path,
    prepare,
    read_json,
    readme_says,
    readme_text_says,
    run,
    train,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2 * 3600)]
TRANSLATION = EXAMPLES / "translation"
TRANSLATION_README = TRANSLATION / "README.md"
POINTS = 1.0


@pytest.fixture(scope="module")
def data() -> Path:
    return (
        prepare(
            "translation",
            ["data/train.csv", "data/validation.csv", "data/test.csv"],
            needs={
                "sudo apt-get install libsword-utils sword-text-kjv sword-text-sparv": on_path(
                    "mod2imp"
                ),
            },
        )
        / "data"
    )


@pytest.fixture(scope="module")
def run_dir(data, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("runs") / "translation"
    train(TRANSLATION / "config.yaml", folder)
    return folder


@pytest.fixture(scope="module")
def model(run_dir) -> dict:
    return read_json(run_dir / "metrics.json")


@pytest.fixture(scope="module")
def apertium(data, tmp_path_factory) -> dict:
    """`python examples/translation/baselines.py`: its JSON on stdout."""
    if not on_path("apertium"):
        pytest.fail(
            "the baseline needs Apertium: sudo apt-get install apertium-eng-spa", pytrace=False
        )
    out = run(sys.executable, TRANSLATION / "baselines.py", cwd=tmp_path_factory.mktemp("apertium"))
    return json.loads(out.stdout)["apertium eng-spa"]


def test_split_sizes(data):
    readme_text_says(TRANSLATION_README, "(15,792 training pairs)")
    readme_text_says(
        TRANSLATION_README,
        "one verse in 50 for test (329 verses) and another one in 50 for validation (329)",
    )
    sizes = {s: len(pd.read_csv(data / f"{s}.csv")) for s in ("train", "validation", "test")}
    assert sizes == {"train": 15792, "validation": 329, "test": 329}  # a fixed split: exact


def test_apertium_baseline(apertium):
    readme_says(TRANSLATION_README, "Apertium, apertium-eng-spa 0.8.1", "| 13.25 | 37.93 |")
    near("Apertium BLEU", apertium["bleu"], 13.25, 0.005)
    near("Apertium chrF", apertium["chrf"], 37.93, 0.005)


def test_transformer_bleu_and_chrf(model):
    readme_says(TRANSLATION_README, "**modelyard**, config.yaml", "| **19.22** | **38.67** |")
    readme_text_says(
        TRANSLATION_README,
        "beam search (beam 4, length penalty 1.0) on the final model: 18.2 validation, 19.2 test",
    )
    at_least("test BLEU", model["test"]["bleu"], 19.22, POINTS)
    at_least("test chrF", model["test"]["chrf"], 38.67, POINTS)
    at_least("validation BLEU (beam 4)", model["validation"]["bleu"], 18.2, POINTS)


def test_transformer_beats_apertium_on_bleu_and_is_level_on_chrf(model, apertium):
    readme_says(README, "`examples/translation`", "BLEU 19.2 (apertium 13.3)")
    readme_text_says(
        TRANSLATION_README,
        "beats the rule-based translator on BLEU (19.2 against 13.3) and is level with it on chrF (38.7 against 37.9)",
    )
    assert model["test"]["bleu"] > apertium["bleu"], (model["test"]["bleu"], apertium["bleu"])
    # "level": within the 1-point spread of the trained model (README: 38.7 against 37.9)
    near("chrF, model minus Apertium", model["test"]["chrf"] - apertium["chrf"], 0.74, POINTS)


def test_beam_search_beats_greedy_decoding(run_dir, model):
    greedy = [0.8, 3.6, 7.4, 9.2, 12.4, 13.8, 15.1, 14.8]
    readme_text_says(
        TRANSLATION_README,
        "greedy decoding after each epoch: " + ", ".join(map(str, greedy)) + "; beam search",
    )
    measured = pd.read_csv(run_dir / "history.csv")["validation_bleu"].tolist()
    assert len(measured) == len(greedy)
    near("validation BLEU, greedy after the last epoch", measured[-1], greedy[-1], POINTS)
    assert model["validation"]["bleu"] > measured[-1], (model["validation"]["bleu"], measured)
