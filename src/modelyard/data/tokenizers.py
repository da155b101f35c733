"""The one place a tokenizer is trained: text inputs, text outputs and language models all call
`train_tokenizer`, with plain arguments (no config object).

A tokenizer is a model (how words become pieces) after a split (how text becomes words) and a
normalizer; each split brings the decoder that undoes it. The texts may be any iterable,
a generator included: they are read once and never held in memory by this function.

Use when / alternatives / cost: `bpe` merges frequent pairs (good default for any language);
`wordpiece` is BERT's variant (pieces after the first carry "##"); `word` keeps whole words
(fast, but every unseen word is [UNK]). Training reads the texts once; memory grows with the
number of distinct words, not with the corpus.

Caveat: `tokenizers` trains WordPiece non-deterministically (huggingface/tokenizers#1794):
pieces tied in frequency can come out differently from one run to the next. BPE and word
vocabularies are reproducible.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from tokenizers import Tokenizer

Kind = Literal["bpe", "wordpiece", "word"]
# punctuation: words and punctuation runs; whitespace: split on spaces only; metaspace:
# SentencePiece-style, spaces kept as '▁' so decoding restores them; bert: BERT's split;
# characters: one word per character, spaces included; bytes: GPT-2's byte-level split
# (every byte is in the vocabulary, so nothing is ever unknown).
Split = Literal["punctuation", "whitespace", "metaspace", "bert", "characters", "bytes"]
# nfkc: Unicode NFKC (then lowercase if asked); bert: BERT's normalizer (cleans control
# characters, spaces CJK characters; lowercases and strips accents if asked); none.
Normalizer = Literal["nfkc", "bert", "none"]


def train_tokenizer(
    texts: Iterable[str],
    kind: Kind,
    *,
    split: Split,
    vocab_size: int,
    min_frequency: int,
    specials: Sequence[str],
    unk: str | None,
    normalizer: Normalizer = "nfkc",
    lowercase: bool = False,
) -> Tokenizer:
    """A `tokenizers.Tokenizer` trained on `texts`.

    `specials` get ids 0, 1, ... in order, before any learned token; `unk` (one of them, or
    None with the `bytes` split) replaces what the vocabulary cannot spell. `vocab_size`
    counts the specials; pieces seen fewer than `min_frequency` times are left out.
    """
    from tokenizers import Tokenizer

    tokenizer = Tokenizer(_model(kind, unk))
    normalizer_step = _normalizer(normalizer, lowercase)
    if normalizer_step is not None:
        tokenizer.normalizer = normalizer_step
    tokenizer.pre_tokenizer = _pre_tokenizer(split)
    decoder = _decoder(kind, split)
    if decoder is not None:
        tokenizer.decoder = decoder
    tokenizer.train_from_iterator(
        texts, trainer=_trainer(kind, split, vocab_size, min_frequency, list(specials))
    )
    return tokenizer


def _model(kind: Kind, unk: str | None):
    from tokenizers import models

    if kind == "bpe":
        return models.BPE(unk_token=unk) if unk is not None else models.BPE()
    if kind == "wordpiece":
        return models.WordPiece(unk_token=unk)
    return models.WordLevel(unk_token=unk)


def _trainer(kind: Kind, split: Split, vocab_size: int, min_frequency: int, specials: list[str]):
    from tokenizers import pre_tokenizers, trainers

    options = {
        "vocab_size": vocab_size,
        "min_frequency": min_frequency,
        "special_tokens": specials,
        "show_progress": False,
    }
    if kind == "bpe":
        if split == "bytes":
            options["initial_alphabet"] = pre_tokenizers.ByteLevel.alphabet()
        return trainers.BpeTrainer(**options)
    if kind == "wordpiece":
        return trainers.WordPieceTrainer(**options)
    return trainers.WordLevelTrainer(**options)


def _normalizer(name: Normalizer, lowercase: bool):
    from tokenizers import normalizers

    if name == "bert":
        return normalizers.BertNormalizer(lowercase=lowercase)
    if name == "nfkc":
        steps = [normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else [])
        return normalizers.Sequence(steps)
    return normalizers.Lowercase() if lowercase else None


def _pre_tokenizer(split: Split):
    from tokenizers import Regex, pre_tokenizers

    return {
        "punctuation": pre_tokenizers.Whitespace,
        "whitespace": pre_tokenizers.WhitespaceSplit,
        "metaspace": pre_tokenizers.Metaspace,
        "bert": pre_tokenizers.BertPreTokenizer,
        "characters": lambda: pre_tokenizers.Split(Regex("."), behavior="isolated"),
        "bytes": lambda: pre_tokenizers.ByteLevel(add_prefix_space=False),
    }[split]()


def _decoder(kind: Kind, split: Split):
    """What turns ids back into text: the split's inverse, else WordPiece's "##" joining."""
    from tokenizers import decoders

    by_split = {
        "metaspace": decoders.Metaspace,
        "characters": decoders.Fuse,
        "bytes": decoders.ByteLevel,
    }
    if split in by_split:
        return by_split[split]()
    return decoders.WordPiece() if kind == "wordpiece" else None
