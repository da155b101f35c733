"""Pretraining BERT- and GPT-style models from scratch, generating, fine-tuning the result."""

from __future__ import annotations

import random

import pandas as pd
import pytest
import torch
import yaml

from modelyard import Model
from tests.conftest import make_table
from tests.integration.cli_helpers import modelyard, user_error

pytestmark = pytest.mark.integration
WORDS = [
    "the",
    "cat",
    "dog",
    "sat",
    "ran",
    "on",
    "in",
    "a",
    "park",
    "mat",
    "big",
    "small",
    "red",
    "green",
    "house",
    "tree",
    "river",
    "walked",
    "jumped",
    "over",
    "under",
]


def _corpus(folder, lines: int = 800) -> None:
    rng = random.Random(0)
    text = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 15))) for _ in range(lines)]
    (folder / "corpus.txt").write_text("\n".join(text))


def _lm_config(architecture: str, epochs: int = 3) -> dict:
    return {
        "name": architecture,
        "task": "language_model",
        "corpus": {"train": ["corpus*.txt"]},
        "tokenizer": {"vocab_size": 200},
        "model": {"architecture": architecture, "hidden": 32, "layers": 2, "heads": 2},
        "block_size": 24,
        "trainer": {
            "epochs": epochs,
            "batch_size": 32,
            "optimizer": {"type": "adamw", "lr": 0.003},
            "schedule": {"type": "cosine", "warmup_steps": 10},
        },
    }


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """Both architectures pretrained once through the CLI: {architecture: run directory}."""
    root = tmp_path_factory.mktemp("lm")
    _corpus(root)
    runs = {}
    for architecture in ("bert", "gpt2"):
        (root / f"{architecture}.yaml").write_text(yaml.safe_dump(_lm_config(architecture)))
        modelyard("train", f"{architecture}.yaml", "--output", architecture, cwd=root)
        runs[architecture] = root / architecture
    return runs


@pytest.mark.parametrize("architecture", ["bert", "gpt2"])
def test_perplexity_falls_and_transformers_loads_the_run(pretrained, architecture):
    from transformers import AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

    run = pretrained[architecture]
    history = pd.read_csv(run / "history.csv")
    perplexity = history["validation_perplexity"].tolist()
    assert perplexity == sorted(perplexity, reverse=True) and perplexity[-1] < 0.8 * perplexity[0]
    auto = AutoModelForCausalLM if architecture == "gpt2" else AutoModelForMaskedLM
    hf = auto.from_pretrained(str(run / "model")).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(run / "model"))
    AutoModel.from_pretrained(str(run / "model"))
    ids = tokenizer(["the cat sat on the mat"], return_tensors="pt")
    ours = Model.load(run)
    with torch.no_grad():
        torch.testing.assert_close(hf(**ids).logits, ours.module(**ids).logits)
    metrics = yaml.safe_load((run / "metrics.json").read_text())["validation"]
    assert metrics["perplexity"] == pytest.approx(2.718281828 ** metrics["loss"], rel=1e-6)


def test_generate_streams_and_repeats_with_a_seed(pretrained):
    run = pretrained["gpt2"]
    args = ("generate", str(run), "--prompt", "the cat", "--seed", "3", "--max-new-tokens", "12")
    first, again = modelyard(*args, cwd=run.parent), modelyard(*args, cwd=run.parent)
    assert first.stdout.startswith("the cat") and len(first.stdout.split()) > 2
    assert first.stdout == again.stdout
    model = Model.load(run)
    greedy = model.generate("the dog", greedy=True, max_new_tokens=8)
    assert greedy == model.generate("the dog", greedy=True, max_new_tokens=8) and greedy.startswith(
        "the dog"
    )


def test_generate_errors(pretrained):
    message = user_error(
        modelyard(
            "generate",
            str(pretrained["bert"]),
            "--prompt",
            "the cat",
            cwd=pretrained["bert"].parent,
            check=None,
        )
    )
    assert "masked language model" in message
    assert "empty" in user_error(
        modelyard(
            "generate",
            str(pretrained["gpt2"]),
            "--prompt",
            "",
            cwd=pretrained["gpt2"].parent,
            check=None,
        )
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--max-new-tokens", "0"], "max_new_tokens 0"),
        (["--temperature", "0"], "temperature 0"),
        (["--temperature", "nan"], "temperature nan"),
        (["--top-k", "-1"], "top_k -1"),
        (["--top-p", "1.5"], "top_p 1.5"),
    ],
)
def test_bad_generate_arguments_are_user_errors(pretrained, capsys, args, expected):
    from modelyard.cli import main

    assert main(["generate", str(pretrained["gpt2"]), "--prompt", "the cat", *args]) == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith("error: ") and expected in stderr and "Traceback" not in stderr


def test_generate_on_a_supervised_run_is_a_user_error(tmp_path, capsys):
    from modelyard.cli import main

    model = Model.from_config(
        {
            "name": "rows",
            "inputs": [{"name": "x1", "type": "number"}],
            "outputs": [{"name": "label", "type": "category"}],
            "trainer": {"epochs": 1},
        }
    ).fit(make_table(40), make_table(20, seed=1))
    model.save(tmp_path / "rows")
    assert main(["generate", str(tmp_path / "rows"), "--prompt", "the cat"]) == 2
    assert "generate needs a causal language model" in capsys.readouterr().err


def test_pretrained_bert_fine_tunes_as_an_encoder(pretrained):
    config = {
        "data": {"split": {"validation": 0.2, "test": 0.0}},
        "inputs": [
            {
                "name": "review",
                "type": "text",
                "encoder": {
                    "type": "pretrained",
                    "model": str(pretrained["bert"] / "model"),
                    "lr": 0.001,
                },
            }
        ],
        "outputs": [{"name": "label", "type": "category"}],
        "trainer": {"epochs": 8, "batch_size": 16, "optimizer": {"type": "adamw", "lr": 0.003}},
    }
    model = Model.from_config(config).fit(train=make_table(120))
    assert model.metrics["validation"]["accuracy"] > 0.85


def test_resumed_pretraining_matches_an_uninterrupted_one(tmp_path):
    _corpus(tmp_path, lines=300)
    config = _lm_config("gpt2", epochs=2)
    config["trainer"]["schedule"] = {
        "type": "constant"
    }  # a cosine's length would change with epochs
    config["trainer"]["keep_checkpoints"] = "last"  # to continue the finished run
    (tmp_path / "lm.yaml").write_text(yaml.safe_dump(config))
    Model.from_config(tmp_path / "lm.yaml").fit(output_dir=tmp_path / "resumed")
    three = ["trainer.epochs=3"]
    resumed = Model.from_config(tmp_path / "lm.yaml", three).fit(
        output_dir=tmp_path / "resumed", resume=True
    )
    straight = Model.from_config(tmp_path / "lm.yaml", three).fit(output_dir=tmp_path / "straight")
    for (name, a), b in zip(
        resumed.module.state_dict().items(), straight.module.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6, msg=name)
    assert [row["epoch"] for row in resumed.history] == [1, 2, 3]


def test_corpus_and_task_errors(tmp_path):
    (tmp_path / "lm.yaml").write_text(yaml.safe_dump(_lm_config("bert")))
    assert "matches no file" in user_error(modelyard("train", "lm.yaml", cwd=tmp_path, check=None))
    (tmp_path / "corpus.txt").write_text("\n".join(f"line {i} of text" for i in range(40)))
    assert (
        "corpus: 38 training lines (152 words), 2 validation lines"
        in modelyard("validate", "lm.yaml", cwd=tmp_path).stderr
    )
    (tmp_path / "corpus.txt").write_text("tiny\n")
    assert "too few to hold out" in user_error(
        modelyard("train", "lm.yaml", cwd=tmp_path, check=None)
    )
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"task": "translate"}))
    assert "unknown task 'translate'" in user_error(
        modelyard("validate", "bad.yaml", cwd=tmp_path, check=None)
    )
