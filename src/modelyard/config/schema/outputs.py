"""Outputs: what is predicted, its loss and, for texts, the decoder."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt

from modelyard.config.schema.common import (
    CategoryValue,
    PositiveFloat,
    Probability,
    Strict,
    tagged_union,
)
from modelyard.config.schema.segmentation import MaskOutput

LossName = Literal["cross_entropy", "binary_cross_entropy", "mse", "mae", "huber"]
ClassWeights = Literal["none", "balanced"] | dict[CategoryValue, PositiveFloat]


class CategoryOutput(Strict):
    """One class per row. `class_weights` weigh each training row's loss by its class, for
    imbalanced labels: `balanced` gives class c the weight n / (classes * rows of c) of the
    training split (scikit-learn's), `{class: weight}` sets them (1 for classes not named);
    each row's loss is multiplied by its class's weight (the validation loss's too). Use it when
    a rare class matters more than overall accuracy (recall of the rare class goes up, its
    precision down); alternatives: data.sampling balanced, or a binary output's `threshold`."""

    name: str
    type: Literal["category"]
    column: str | None = None
    loss: LossName = "cross_entropy"
    label_smoothing: Probability = 0.0
    weight: PositiveFloat = 1.0
    class_weights: ClassWeights = "none"


class BinaryOutput(Strict):
    """Two classes; `positive` names the positive one. `class_weights` as for category
    outputs (keys: the two values)."""

    name: str
    type: Literal["binary"]
    column: str | None = None
    loss: LossName = "binary_cross_entropy"
    positive: CategoryValue | None = None
    threshold: Annotated[float, Field(gt=0, lt=1)] = 0.5
    weight: PositiveFloat = 1.0
    class_weights: ClassWeights = "none"


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


TextDecoder = tagged_union(TransformerDecoder, CtcDecoder)


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


class SentenceScorer(Strict):
    """An extractive summary's sentence scorer: each sentence's vector (the text input's
    encoder, pooled over the sentence) with its document's mean vector, their product and
    cosine, and the sentence's position, into a `dim`-wide layer, then `layers` Transformer
    layers across the sentences of a document (0: none), then a score per sentence.
    `centrality`: also the sentence's PageRank in the graph of its document's sentences
    weighted by their vectors' cosine similarity (LexRank, Erkan and Radev 2004: TextRank's
    centrality on the encoder's vectors). `length`: also the log of its number of tokens."""

    dim: PositiveInt = 128
    layers: Annotated[int, Field(ge=0)] = 1
    heads: PositiveInt = 4
    dropout: Probability = 0.1
    centrality: bool = False
    length: bool = False


class SummaryOutput(Strict):
    """A summary of a text input (the document), scored by ROUGE against the reference in
    `column`, next to the Lead-3 and TextRank baselines on the same documents.

    `method: extractive` picks whole sentences of the document: it splits it into sentences (a
    JSON list of strings is taken as already split), scores each one, and keeps the best
    within `max_sentences` and `max_words`, in document order. Sentences are labelled for
    training by `labels_column` (a JSON list of 0/1 per sentence, such as human highlights)
    or else by an oracle against the reference: `oracle: greedy` labels 1 the sentences that
    greedily raise ROUGE (mean of ROUGE-1 and ROUGE-2 F) most, 0 the others; `oracle: soft`
    labels each sentence by its own ROUGE against the reference, scaled so the document's best
    is 1, so every sentence says how close it comes (suits one-sentence summaries such as
    XSum's, where the greedy oracle marks one sentence and the near misses count as wrong).
    Use it when summaries reuse the
    document's sentences; cost: one encoder pass per sentence (with `freeze: all` on a
    pretrained encoder, once per sentence for the whole run).
    `method: abstractive` writes new text with the encoder-decoder of `type: text` outputs
    (`decoder`, `preprocessing`, `label_smoothing` as there); it needs far more data.
    """

    name: str
    type: Literal["summary"]
    column: str | None = None
    method: Literal["extractive", "abstractive"] = "extractive"
    max_sentences: PositiveInt | None = 3
    max_words: PositiveInt | None = None
    labels_column: str | None = None
    oracle: Literal["greedy", "soft"] = "greedy"
    max_document_sentences: PositiveInt = 100
    scorer: SentenceScorer = SentenceScorer()
    decoder: TransformerDecoder = TransformerDecoder()
    preprocessing: TextOutputPreprocessing = TextOutputPreprocessing()
    label_smoothing: Probability = 0.1
    weight: PositiveFloat = 1.0


BUILTIN_OUTPUTS = (
    CategoryOutput,
    BinaryOutput,
    NumberOutput,
    TagsOutput,
    TextOutput,
    SummaryOutput,
    MaskOutput,
)

# The built-in output types; a task registered by a plugin adds its own (see
# supervised.config_model).
Output = Annotated[
    CategoryOutput
    | BinaryOutput
    | NumberOutput
    | TagsOutput
    | TextOutput
    | SummaryOutput
    | MaskOutput,
    Field(discriminator="type"),
]
