"""The one tokenizer trainer: each caller (text inputs, text outputs, language models) gets the
very pipeline it built by hand before, and texts may come from a generator.

Each `_reference_*` below is the `tokenizers` pipeline as the caller wrote it before the three
trainers became one (kept here, verbatim but for names, to pin the behaviour).
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from modelyard.data.features import text, text_target
from modelyard.data.tokenizers import train_tokenizer
from modelyard.tasks import language_model as lm

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Ünïcode café — naïve résumé, ﬁne ligatures!",
    "Don't stop; it's 3.14 and 42 apples...",
    "the the the quick QUICK quick brown",
] * 3
SPECIALS = ["[PAD]", "[UNK]", "[CLS]"]


def _train(tokenizer: Tokenizer, trainer, lowercase: bool | None) -> Tokenizer:
    if lowercase is not None:
        steps = [normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else [])
        tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.train_from_iterator(CORPUS, trainer=trainer)
    return tokenizer


def _reference_input(kind: str, prep) -> Tokenizer:
    model = {"bpe": models.BPE, "wordpiece": models.WordPiece, "whitespace": models.WordLevel}
    trainer = {
        "bpe": trainers.BpeTrainer,
        "wordpiece": trainers.WordPieceTrainer,
        "whitespace": trainers.WordLevelTrainer,
    }[kind](
        vocab_size=prep.vocab_size,
        min_frequency=prep.min_frequency,
        special_tokens=SPECIALS,
        show_progress=False,
    )
    tokenizer = Tokenizer(model[kind](unk_token="[UNK]"))
    tokenizer.pre_tokenizer = (
        pre_tokenizers.WhitespaceSplit() if kind == "whitespace" else pre_tokenizers.Whitespace()
    )
    if kind == "wordpiece":  # new: input WordPiece tokenizers now decode like the others
        tokenizer.decoder = decoders.WordPiece()
    return _train(tokenizer, trainer, prep.lowercase)


def _reference_target(kind: str, prep) -> Tokenizer:
    options = {"special_tokens": [*SPECIALS[:2], "[BOS]", "[EOS]"], "show_progress": False}
    sized = {"vocab_size": prep.vocab_size, "min_frequency": prep.min_frequency, **options}
    if kind == "bpe":
        tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
        tokenizer.pre_tokenizer, tokenizer.decoder = (
            pre_tokenizers.Metaspace(),
            decoders.Metaspace(),
        )
        trainer = trainers.BpeTrainer(**sized)
    elif kind == "wordpiece":
        tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tokenizer.pre_tokenizer, tokenizer.decoder = (
            pre_tokenizers.Whitespace(),
            decoders.WordPiece(),
        )
        trainer = trainers.WordPieceTrainer(**sized)
    else:
        tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
        tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
        tokenizer.decoder = decoders.Fuse()
        trainer = trainers.WordLevelTrainer(vocab_size=1_000_000, min_frequency=1, **options)
    return _train(tokenizer, trainer, prep.lowercase)


def _reference_lm(kind: str, settings) -> Tokenizer:
    sized = {"vocab_size": settings.vocab_size, "min_frequency": settings.min_frequency}
    if kind == "wordpiece":
        tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(
            special_tokens=lm.BERT_SPECIALS, show_progress=False, **sized
        )
    else:
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            special_tokens=[lm.EOS],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
            **sized,
        )
    return _train(tokenizer, trainer, None)


def _assert_same(ours: Tokenizer, reference: Tokenizer) -> None:
    """The same pipeline and vocabulary. WordPiece training is not deterministic in
    `tokenizers` (huggingface/tokenizers#1794: tied pieces come out in any order), so there
    only the specials and the alphabet, which are, must match."""
    mine, theirs = json.loads(ours.to_str()), json.loads(reference.to_str())
    if mine["model"]["type"] == "WordPiece":
        for found in (mine, theirs):
            vocab = found["model"].pop("vocab")
            found["model"]["fixed"] = {t: i for t, i in vocab.items() if len(t) == 1 or "[" in t}
    assert mine == theirs


@pytest.mark.parametrize("kind", ["bpe", "wordpiece", "whitespace"])
@pytest.mark.parametrize(("lowercase", "size", "frequency"), [(True, 60, 1), (False, 200, 4)])
def test_text_inputs_train_the_same_tokenizer_as_before(kind, lowercase, size, frequency):
    prep = SimpleNamespace(
        tokenizer=kind, vocab_size=size, min_frequency=frequency, lowercase=lowercase
    )
    _assert_same(text._train_tokenizer(CORPUS, prep), _reference_input(kind, prep))


@pytest.mark.parametrize("kind", ["bpe", "wordpiece", "characters"])
@pytest.mark.parametrize(("lowercase", "size", "frequency"), [(True, 60, 1), (False, 200, 4)])
def test_text_outputs_train_the_same_tokenizer_as_before(kind, lowercase, size, frequency):
    prep = SimpleNamespace(
        tokenizer=kind, vocab_size=size, min_frequency=frequency, lowercase=lowercase
    )
    _assert_same(text_target._train_tokenizer(CORPUS, prep), _reference_target(kind, prep))


@pytest.mark.parametrize(
    ("kind", "architecture", "expected"),
    [("auto", "bert", "wordpiece"), ("auto", "gpt2", "bpe"), ("bpe", "bert", "bpe")],
)
def test_language_models_train_the_same_tokenizer_as_before(kind, architecture, expected):
    settings = SimpleNamespace(type=kind, vocab_size=300, min_frequency=4)
    found = lm.train_tokenizer(CORPUS, settings, architecture, 64)
    reference = _reference_lm(expected, settings)
    ours = Tokenizer.from_str(found.backend_tokenizer.to_str())
    ours.post_processor = None  # the [CLS] ... [SEP] template is added after training
    _assert_same(ours, reference)
    assert found.model_max_length == 64


def test_texts_may_come_from_a_generator_read_once():
    reads = []

    def lines():
        for line in CORPUS:
            reads.append(line)
            yield line

    options = {
        "split": "metaspace",
        "vocab_size": 80,
        "min_frequency": 1,
        "specials": ["[UNK]"],
        "unk": "[UNK]",
    }
    streamed = train_tokenizer(lines(), "bpe", **options)
    assert reads == CORPUS
    assert streamed.to_str() == train_tokenizer(list(CORPUS), "bpe", **options).to_str()
    assert streamed.decode(streamed.encode("the quick fox").ids) == "the quick fox"
