"""The config schema: every key a user may write, its type and its default.

Defaults live here and only here. Every model forbids unknown keys, so a typo is an
error (with a suggestion), never silently ignored. `modelyard schema` prints this as
JSON Schema for editor autocompletion. One module per part of the config: `common` (the
strict base model and shared value types), `encoders`, `inputs` (features and their
preprocessing), `outputs`, `data`, `trainer`, and one per task (`supervised`, `language_model`).
"""

from __future__ import annotations

from modelyard.config.schema.common import (
    CategoryValue,
    PositiveFloat,
    Probability,
    Strict,
)
from modelyard.config.schema.data import (
    Data,
    Split,
)
from modelyard.config.schema.encoders import (
    AudioCnn,
    AudioEncoder,
    AudioResnet,
    AudioRnn,
    AudioTransformer,
    CategoryEmbed,
    CategoryEncoder,
    CategoryOneHot,
    ImageCnn,
    ImageEncoder,
    ImageMlp,
    ImageResnet,
    Lora,
    NumberAuto,
    NumberEncoder,
    NumberPeriodic,
    Passthrough,
    TextBow,
    TextCnn,
    TextEncoder,
    TextMlp,
    TextPretrained,
    TextRnn,
    TextTransformer,
)
from modelyard.config.schema.image_generation import ImageGenerationConfig
from modelyard.config.schema.inputs import (
    FEATURE_MODELS,
    AudioInput,
    AudioPreprocessing,
    Augment,
    BinaryInput,
    BinaryPreprocessing,
    CategoryInput,
    CategoryPreprocessing,
    ImageInput,
    ImagePreprocessing,
    Input,
    NumberInput,
    NumberPreprocessing,
    SpecAugment,
    TextInput,
    TextPreprocessing,
)
from modelyard.config.schema.language_model import (
    Corpus,
    LanguageModelConfig,
    LmModel,
    LmTokenizer,
)
from modelyard.config.schema.link_prediction import LinkPredictionConfig
from modelyard.config.schema.object_detection import ObjectDetectionConfig
from modelyard.config.schema.outputs import (
    BinaryOutput,
    CategoryOutput,
    CtcDecoder,
    LossName,
    NumberOutput,
    Output,
    TagsOutput,
    TextDecoder,
    TextOutput,
    TextOutputPreprocessing,
    TransformerDecoder,
)
from modelyard.config.schema.question_answering import QuestionAnsweringConfig
from modelyard.config.schema.recommendation import RecommendationConfig
from modelyard.config.schema.supervised import (
    Combiner,
    ConcatCombiner,
    Config,
    MlpCombiner,
    config_model,
)
from modelyard.config.schema.text_to_speech import TextToSpeechConfig
from modelyard.config.schema.trainer import (
    Adam,
    AdamW,
    EarlyStopping,
    Optimizer,
    Schedule,
    Sgd,
    Tracking,
    Trainer,
)
from modelyard.config.schema.vocoder import VocoderConfig


def root_models() -> dict[str, type[Strict]]:
    """The schema of each kind of config, by its `task:` value."""
    return {
        "supervised": config_model(),
        "language_model": LanguageModelConfig,
        "recommendation": RecommendationConfig,
        "link_prediction": LinkPredictionConfig,
        "question_answering": QuestionAnsweringConfig,
        "object_detection": ObjectDetectionConfig,
        "text_to_speech": TextToSpeechConfig,
        "vocoder": VocoderConfig,
        "image_generation": ImageGenerationConfig,
    }


__all__ = [
    "Adam",
    "AdamW",
    "AudioCnn",
    "AudioEncoder",
    "AudioInput",
    "AudioPreprocessing",
    "AudioResnet",
    "AudioRnn",
    "AudioTransformer",
    "Augment",
    "BinaryInput",
    "BinaryOutput",
    "BinaryPreprocessing",
    "CategoryEmbed",
    "CategoryEncoder",
    "CategoryInput",
    "CategoryOneHot",
    "CategoryOutput",
    "CategoryPreprocessing",
    "CategoryValue",
    "Combiner",
    "ConcatCombiner",
    "Config",
    "Corpus",
    "CtcDecoder",
    "Data",
    "EarlyStopping",
    "FEATURE_MODELS",
    "ImageCnn",
    "ImageEncoder",
    "ImageInput",
    "ImageMlp",
    "ImagePreprocessing",
    "ImageResnet",
    "Input",
    "LanguageModelConfig",
    "LinkPredictionConfig",
    "LmModel",
    "LmTokenizer",
    "Lora",
    "LossName",
    "MlpCombiner",
    "NumberAuto",
    "NumberEncoder",
    "NumberInput",
    "NumberOutput",
    "NumberPeriodic",
    "NumberPreprocessing",
    "Optimizer",
    "Output",
    "Passthrough",
    "PositiveFloat",
    "RecommendationConfig",
    "Probability",
    "QuestionAnsweringConfig",
    "Schedule",
    "Sgd",
    "SpecAugment",
    "Split",
    "Strict",
    "TagsOutput",
    "TextBow",
    "TextCnn",
    "TextDecoder",
    "TextEncoder",
    "TextInput",
    "TextMlp",
    "TextOutput",
    "TextOutputPreprocessing",
    "TextPreprocessing",
    "TextPretrained",
    "TextRnn",
    "TextTransformer",
    "Tracking",
    "Trainer",
    "config_model",
    "root_models",
    "TransformerDecoder",
]
