"""Sequence tagging (NER, part of speech): a tag per word from a text encoder's per-token states."""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from modelyard.config.schema.outputs import TagsOutput
from modelyard.data.features.tags import IGNORE, TagsFeature
from modelyard.errors import UserError
from modelyard.tasks.base import HIGHER, Task


class TaggingModel(nn.Module):
    """batch {text input: (B, L) ids, or (B, 2, L) ids and mask} -> {tags output: (B, L, T) logits}.

    The encoder's `sequence` gives (B, L, H) states; each tags output has dropout and a
    Linear to its T tags. Logits at padding and continuation pieces are computed but never
    used: their targets are -100. `input_names`/`encoders` have the meaning they have in
    `YardModel` (the API exports pretrained backbones through them).
    """

    def __init__(
        self,
        input_name: str,
        encoder: nn.Module,
        output_names: list[str],
        tag_counts: list[int],
        dropouts: list[float],
    ):
        super().__init__()
        self.input_names = [input_name]
        self.encoders = nn.ModuleList([encoder])
        self.output_names = output_names
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Dropout(p), nn.Linear(encoder.output_size, count))
            for count, p in zip(tag_counts, dropouts, strict=True)
        )

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        states, _ = self.encoders[0].sequence(batch[self.input_names[0]])  # (B, L, H)
        return {
            name: head(states) for name, head in zip(self.output_names, self.heads, strict=True)
        }

    def pack(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Table tensors -> model inputs: the text input's ids."""
        return {self.input_names[0]: tensors[self.input_names[0]]}


def tagging_loss(label_smoothing: float):
    """(B, L, T) logits, (B, L) targets -> mean cross-entropy over the labelled positions
    (targets -100 are ignored, and so are tags unseen in training, index T; a batch without
    any gives 0, not NaN)."""

    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        target = target.masked_fill(target >= logits.shape[-1], IGNORE)  # tags unseen in training
        total = F.cross_entropy(
            logits.flatten(0, 1).float(),
            target.flatten(),
            ignore_index=IGNORE,
            label_smoothing=label_smoothing,
            reduction="sum",
        )
        return total / (target != IGNORE).sum().clamp(min=1)

    return loss


def tag_scores(
    feature, logits: torch.Tensor, target: torch.Tensor, raw: pd.Series, details: bool = True
) -> tuple[dict, dict[str, Any]]:
    """Metrics (`accuracy`, and for BIO tags `f1_entity`, `precision_entity`, `recall_entity`)
    and report details (word-level confusion matrix) of one tags output, against the raw tags
    of the data (`raw`: the N values of the tags column): a tag unseen in training, or a word
    cut off by max_length, counts like any other word. `details=False`: no report details."""
    from modelyard.metrics.tagging import tagging_details, tagging_metrics

    true, predicted = feature.sequences(logits, target, raw)
    found = tagging_metrics(true, predicted, entities=feature.bio)
    return found, tagging_details(true, predicted, feature.vocab) if details else {}


class TaggingTask(Task):
    """A tag per word of the one text input; the model is that input's encoder, per token,
    into a tag layer per tags output (`TaggingModel`)."""

    type = "tags"
    schema = TagsOutput
    feature = TagsFeature
    metrics = {
        "f1_entity": HIGHER,
        "precision_entity": HIGHER,
        "recall_entity": HIGHER,
        "accuracy": HIGHER,
    }
    capabilities = frozenset({"serve"})
    own_model = True
    text_encoder_default = "cnn"

    def build(self, config, preprocessing) -> nn.Module:
        from modelyard.models.build import ENCODERS

        (text,) = preprocessing.inputs  # config check tags_output_fits
        stopping = config.trainer.early_stopping
        for f in preprocessing.outputs:
            if stopping and stopping.metric.endswith("_entity") and not f.bio:
                raise UserError(
                    f"trainer.early_stopping.metric: {stopping.metric} needs BIO tags (O, B-X, I-X), but output "
                    f"'{f.name}' has tags like '{f.vocab[-1]}' (part of speech?); early-stop on accuracy or loss"
                )
        encoder = ENCODERS.get(f"text.{text.config.encoder.type}")(text.config.encoder, text)
        outputs = preprocessing.outputs
        return TaggingModel(
            text.name,
            encoder,
            [f.name for f in outputs],
            [len(f.vocab) for f in outputs],
            [f.config.dropout for f in outputs],
        )

    def loss(self, output):
        return tagging_loss(output.label_smoothing)

    def epoch_metrics(self, output) -> list[str]:
        return ["f1_entity"]

    def masks_missing_labels(self, output) -> bool:
        return False  # positions without a tag are -100, which tagging_loss ignores

    def score(self, feature, outputs, table, details: bool):
        values, target = outputs[feature.name], table.tensors[feature.name]
        return tag_scores(feature, values, target, feature.column_of(table.frame), details)

    def predictions(self, feature, outputs):
        """A tag per word, in the form the words came in (a string or a JSON list)."""
        return {f"{feature.name}_prediction": feature.predictions(outputs[feature.name])}

    def check(self, config, index: int) -> list[str]:
        """Tags label the tokens of one text input, so that input is the model's only one, its
        encoder keeps a state per token (that every output is a tags output, the config check
        own_model_outputs_alone says for every task building its own model). Reported once,
        for the first tags output."""
        if index != next(i for i, o in enumerate(config.outputs) if o.type == self.type):
            return []
        problems = []
        if len(config.inputs) != 1 or config.inputs[0].type != "text":
            kinds = ", ".join(f"{f.name} ({f.type})" for f in config.inputs)
            problems.append(
                f"inputs: a tags output tags the tokens of exactly one text input, but the inputs are {kinds}; "
                "keep only the text input that holds the tokens"
            )
        elif config.inputs[0].encoder.type in ("mlp", "bow"):
            problems.append(
                f"inputs[0].encoder: {config.inputs[0].encoder.type} pools the text away, but a tags output needs a state per token; "
                "use rnn, transformer, cnn or pretrained"
            )
        return problems
