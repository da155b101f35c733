"""Input features: how each column is read (preprocessing) and encoded."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt

from modelyard.config.schema.common import CategoryValue, PositiveFloat, Strict
from modelyard.config.schema.encoders import (
    AudioCnn,
    AudioEncoder,
    CategoryEmbed,
    CategoryEncoder,
    ImageCnn,
    ImageEncoder,
    NumberAuto,
    NumberEncoder,
    Passthrough,
    TextBow,
    TextEncoder,
)


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
    """How a text becomes token ids (encoders but bow and pretrained). `tokenizer`: bpe
    (subword pieces, the default), wordpiece, whitespace (whole words) or characters (one id
    per character, spaces included: a character-level cnn or rnn, robust to misspellings and
    rare words; raise `max_length`, which then counts characters). `vocab_size` and
    `min_frequency` bound the learned vocabulary (characters: the alphabet)."""

    tokenizer: Literal["bpe", "wordpiece", "whitespace", "characters"] = "bpe"
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
    encoder: NumberEncoder = NumberAuto()
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
    """A text column. The default encoder, `bow` (TF-IDF n-grams into a learned projection),
    is on par with TF-IDF + logistic regression on short texts with no tuning and trains in
    seconds; `pretrained` (e.g. `minilm`) does better where meaning beyond words matters, at
    the cost of a transformer's forward and backward; cnn, rnn and transformer learn from
    scratch and need more data. Outputs that read every token (tags, a text decoder) need an
    encoder that keeps them: cnn, rnn, transformer or pretrained."""

    name: str
    type: Literal["text"]
    column: str | None = None
    encoder: TextEncoder = TextBow()
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

FEATURE_MODELS: dict[str, type[Strict]] = {
    "number": NumberInput,
    "category": CategoryInput,
    "binary": BinaryInput,
    "text": TextInput,
    "image": ImageInput,
    "audio": AudioInput,
}
