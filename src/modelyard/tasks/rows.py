"""Classification (category, binary) and regression (number): a value per row, from a head on
the shared encoders -> combiner model."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from modelyard.config.schema.outputs import BinaryOutput, CategoryOutput, NumberOutput
from modelyard.data.features.tabular import (
    MISSING_LABEL,
    BinaryFeature,
    CategoryFeature,
    NumberFeature,
)
from modelyard.models import heads
from modelyard.tasks.base import CAPABILITIES, HIGHER, LOWER, Task


class _RowTask(Task):
    """What classification and regression share: labels may be missing per output."""

    capabilities = CAPABILITIES  # every tool applies to a value per row
    losses: tuple[str, ...] = ()  # the `loss` values this output accepts

    def loss(self, output: Any) -> heads.Loss:
        return heads.make_loss(output.loss, getattr(output, "label_smoothing", 0.0))

    def labelled(self, feature, target: torch.Tensor) -> torch.Tensor:
        if target.is_floating_point():
            return ~torch.isnan(target)
        return target != MISSING_LABEL

    def check(self, config: Any, index: int) -> list[str]:
        output = config.outputs[index]
        if output.loss in self.losses:
            return []
        from modelyard.tasks import registered

        other = [t.type for t in registered() if output.loss in getattr(t, "losses", ())]
        return [
            f"outputs[{index}].loss: output '{output.name}' is {output.type} but loss is {output.loss}: "
            f"use {' or '.join(self.losses)}, or make the output {' or '.join(other)}"
        ]


class ClassificationTask(_RowTask):
    """A class per row: (N, C) logits (category) or (N,) one logit (binary). Rows of a class
    never seen in training count as errors (see metrics.classification_metrics)."""

    metrics = {
        "accuracy": HIGHER,
        "precision_macro": HIGHER,
        "recall_macro": HIGHER,
        "f1_macro": HIGHER,
        "roc_auc": HIGHER,
        "log_loss": LOWER,
    }

    importance_metric = "accuracy"
    baseline, main_metric = "classifier", "accuracy"
    stratifies = True

    def fitted_loss(self, output: Any, feature) -> heads.Loss:
        """The loss weighted by the feature's `class_weights` (fitted on the training split)."""
        smoothing = getattr(output, "label_smoothing", 0.0)
        return heads.make_loss(output.loss, smoothing, getattr(feature, "class_weights", None))

    def classes(self, feature) -> list[str]:
        return list(feature.vocab)

    def positive(self, feature) -> int | None:
        """The index of the positive class in `classes`, for the positive-class metrics
        (precision, recall, f1, average_precision); None: no class is the positive one (a
        category output, even of two classes: its classes are peers, scored by macro
        averages)."""
        return None

    def baseline_outputs(self, feature, scores: np.ndarray) -> torch.Tensor:
        """(N, C) log-probabilities: their softmax gives the baseline's probabilities back."""
        return torch.from_numpy(np.log(np.clip(scores, 1e-12, 1.0))).float()

    def explained(self, feature, values: torch.Tensor) -> torch.Tensor:
        """(B, C) class probabilities from the model's (B, C) logits."""
        return torch.softmax(values.float(), dim=1)

    def probabilities(self, feature, values: torch.Tensor) -> np.ndarray:
        """(N, C) class probabilities from the model's output."""
        return self.explained(feature, values).numpy().astype(np.float64)

    def output_meaning(self, feature) -> str:
        return f"logits over the classes {self.classes(feature)} (softmax gives probabilities)"

    def predicted_classes(self, feature, probs: np.ndarray) -> np.ndarray:
        """(N,) class indices: the most probable class."""
        return probs.argmax(axis=1)

    def seen(self, feature, target: torch.Tensor) -> torch.Tensor:
        return self.labelled(feature, target) & (target < len(self.classes(feature)))

    def distillation_loss(self, student, teacher, temperature: float) -> torch.Tensor:
        """KL divergence of the teacher's class distribution softened by `temperature` from
        the student's, times temperature^2 (Hinton et al. 2015): (B, C) logits each."""
        t = temperature
        return F.kl_div(
            F.log_softmax(student.float() / t, dim=-1),
            F.log_softmax(teacher.float() / t, dim=-1),
            log_target=True,
            reduction="batchmean",
        ) * (t * t)

    def score(self, feature, outputs, table, details: bool):
        from modelyard import metrics as m

        values, target = outputs[feature.name], table.tensors[feature.name]
        rows = self.labelled(feature, target)
        if not bool(rows.any()):
            return {}, {}
        values, target = values[rows], target[rows]
        probs, truth = self.probabilities(feature, values), target.long().numpy()
        chosen, names = self.predicted_classes(feature, probs), self.classes(feature)
        positive = self.positive(feature)
        found = m.classification_metrics(truth, probs, names, chosen, positive)
        if not details:
            return found, {}
        return found, m.classification_details(truth, probs, names, chosen, positive)

    def record(self, feature) -> dict[str, Any]:
        """`positive_class`: the value whose precision, recall and f1 are reported."""
        positive = self.positive(feature)
        return {} if positive is None else {"positive_class": self.classes(feature)[positive]}

    def predictions(self, feature, outputs) -> dict[str, Any]:
        """`<output>_prediction` (a label of the training column's type), `_probability` (of
        the predicted class) and `_probability_<class>` for every class."""
        probs, names = self.probabilities(feature, outputs[feature.name]), self.classes(feature)
        chosen = self.predicted_classes(feature, probs)
        columns = {
            f"{feature.name}_prediction": feature.labels(chosen),
            f"{feature.name}_probability": probs[np.arange(len(chosen)), chosen],
        }
        for i, name in enumerate(names):
            columns[f"{feature.name}_probability_{name}"] = probs[:, i]
        return columns


class CategoryTask(ClassificationTask):
    type = "category"
    schema = CategoryOutput
    feature = CategoryFeature
    losses = ("cross_entropy",)

    def head_size(self, feature) -> int:
        return len(feature.vocab)


class BinaryTask(ClassificationTask):
    type = "binary"
    schema = BinaryOutput
    feature = BinaryFeature
    losses = ("binary_cross_entropy",)
    metrics = {  # of the positive class, then its area under the precision-recall curve
        **ClassificationTask.metrics,
        "precision": HIGHER,
        "recall": HIGHER,
        "f1": HIGHER,
        "average_precision": HIGHER,
    }

    def head_size(self, feature) -> int:
        return 1

    def positive(self, feature) -> int:
        """The positive class (`values[1]`: the output's `positive`, or the true-like value)."""
        return 1

    def classes(self, feature) -> list[str]:
        return list(feature.values)

    def explained(self, feature, values: torch.Tensor) -> torch.Tensor:
        """(B, 2) probabilities [1 - p, p] of the negative and positive class from (B,) logits."""
        p = torch.sigmoid(values.float())
        return torch.stack([1 - p, p], dim=1)

    def output_meaning(self, feature) -> str:
        return f"logit of '{feature.values[1]}' (sigmoid gives its probability)"

    def distillation_loss(self, student, teacher, temperature: float) -> torch.Tensor:
        """As for classes: the logit z of the positive class is the logits (0, z) of both."""
        both = [torch.stack([torch.zeros_like(x), x], dim=-1) for x in (student, teacher)]
        return super().distillation_loss(*both, temperature)

    def baseline_outputs(self, feature, scores: np.ndarray) -> torch.Tensor:
        """(N,) logits of the positive class from (N, 2) probabilities."""
        p = np.clip(scores[:, 1], 1e-12, 1 - 1e-12)
        return torch.from_numpy(np.log(p) - np.log1p(-p)).float()

    def predicted_classes(self, feature, probs: np.ndarray) -> np.ndarray:
        """(N,) class indices by the output's `threshold` on the positive class."""
        return (probs[:, 1] >= feature.config.threshold).astype(np.int64)


class NumberTask(_RowTask):
    """A number per row: (N,) values on the standardised scale the model is trained on;
    metrics and predictions on the data's own scale."""

    type = "number"
    schema = NumberOutput
    feature = NumberFeature
    losses = ("mse", "mae", "huber")
    metrics = {"mse": LOWER, "rmse": LOWER, "mae": LOWER, "r2": HIGHER}
    importance_metric = "r2"
    baseline, main_metric = "regressor", "rmse"

    def baseline_outputs(self, feature, scores: np.ndarray) -> torch.Tensor:
        """(N,) standardised values (baselines are fitted on the standardised targets)."""
        return torch.from_numpy(np.asarray(scores, dtype=np.float32))

    def head_size(self, feature) -> int:
        return 1

    def score(self, feature, outputs, table, details: bool):
        from modelyard import metrics as m

        values, target = outputs[feature.name], table.tensors[feature.name]
        rows = self.labelled(feature, target)
        if not bool(rows.any()):
            return {}, {}
        truth, predicted = feature.decode(target[rows]), feature.decode(values[rows])
        found = m.regression_metrics(truth, predicted)
        return found, m.regression_details(truth, predicted) if details else {}

    def predictions(self, feature, outputs) -> dict[str, Any]:
        return {f"{feature.name}_prediction": feature.decode(outputs[feature.name])}

    def explained(self, feature, values: torch.Tensor) -> torch.Tensor:
        """(B,) values in the data's own units."""
        return values.float() * feature.scale + feature.shift

    def distillation_loss(self, student, teacher, temperature: float) -> torch.Tensor:
        """Mean squared difference of the (B,) standardised values."""
        return F.mse_loss(student.float(), teacher.float())

    def output_meaning(self, feature) -> str:
        return f"standardised value: multiply by {feature.scale:g} and add {feature.shift:g}"
