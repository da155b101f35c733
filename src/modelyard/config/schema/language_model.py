"""The language-model pretraining task's config."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt

from modelyard.config.schema.common import Probability, Strict
from modelyard.config.schema.trainer import Tracking, Trainer


class Corpus(Strict):
    """Plain-text files (globs allowed, relative to the config), one paragraph per line.
    Without `validation` files, `validation_fraction` of the lines is held out (seeded)."""

    train: Annotated[list[str], Field(min_length=1)]
    validation: list[str] = []
    validation_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.05
    seed: int = 0


class LmTokenizer(Strict):
    """Trained on the training corpus. auto: WordPiece for bert, byte-level BPE for gpt2."""

    type: Literal["auto", "wordpiece", "bpe"] = "auto"
    vocab_size: PositiveInt = 8000
    min_frequency: PositiveInt = 2


class LmModel(Strict):
    """bert: masked language modelling (an encoder to fine-tune later); gpt2: causal (generates text)."""

    architecture: Literal["bert", "gpt2"] = "bert"
    hidden: PositiveInt = 256
    layers: PositiveInt = 4
    heads: PositiveInt = 4
    intermediate: PositiveInt | None = None  # default 4 x hidden
    dropout: Probability = 0.1


class LanguageModelConfig(Strict):
    """Pretraining from scratch on plain text: tokenizer, then a BERT- or GPT-style model.
    The run's model/ folder is a Hugging Face checkpoint (AutoModel*, AutoTokenizer)."""

    task: Literal["language_model"]
    name: str = "run"
    corpus: Corpus
    tokenizer: LmTokenizer = LmTokenizer()
    model: LmModel = LmModel()
    block_size: Annotated[int, Field(ge=8, le=4096)] = 128
    mlm_probability: Annotated[float, Field(gt=0, lt=1)] = 0.15
    trainer: Trainer = Trainer()
    tracking: Tracking = Tracking()
