"""The `Task` interface: one type of output (`outputs[].type` in a config) and everything the
toolkit does with it, so that the rest of the code never asks which type an output is.

A task declares its config section (`schema`, one entry of `outputs:`), the preprocessor of
its labels (`feature`), its model (a head on the shared encoders -> combiner model, or a
whole model of its own), its loss, its evaluation (per-output metrics with their directions,
set-level ones included: `score` sees all the rows at once), its prediction columns and the
tools that apply to it (`capabilities`, which explain, compress, export and serve ask instead
of probing the model). Tasks are registered in one place, `modelyard.tasks`; a plugin adds
one with `modelyard.tasks.register(task)` before the config is read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # importing this module stays cheap (modelyard.metrics reads HIGHER, LOWER)
    from collections.abc import Callable

    import torch
    from torch import nn

    from modelyard.data.features import Preprocessing, Table
    from modelyard.data.features.base import Feature

    Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    Tensors = dict[str, torch.Tensor]

HIGHER, LOWER = "max", "min"

# What a tool may ask of a model's tasks: `modelyard explain` (permutation importance),
# `attributions` (explain's per-row methods: integrated gradients, shap, lime, ablation),
# `export` (ONNX), `compress` (quantize, prune), `distill` (a student learning the outputs),
# `serve` (a REST endpoint returning the prediction columns).
CAPABILITIES = frozenset({"explain", "attributions", "export", "compress", "distill", "serve"})


class Task:
    """One output type. Subclasses set the class attributes and override what they need.

    Row tasks (`own_model = False`) put a head of `head_size(feature)` units on the shared
    model (encoders -> combiner, `models/model.YardModel`): the model's output for them is
    the head's (N,) or (N, C) values. A task with `own_model = True` builds the whole model
    (`build`); a config check keeps outputs of other types out of such a model.
    """

    type: str = ""
    schema: type = object  # the pydantic model of one `outputs:` entry of this type
    feature: type[Feature] | None = None  # its labels' preprocessor
    metrics: dict[str, str] = {}  # every metric name `score` reports -> HIGHER or LOWER
    capabilities: frozenset[str] = frozenset()
    own_model: bool = False
    labels_may_be_missing: bool = True  # False: the feature refuses a row without its label
    reads_files: bool = (
        False  # True: its column holds file paths (mask images), read like image inputs
    )
    compacts: bool = False  # True: evaluation keeps what `compact` gives of each batch
    stratifies: bool = False  # True: random splits keep its classes' shares (split: stratify auto)
    # the encoder of a text input whose config names none, where this output is present:
    # outputs that read every token (tags, text decoders) need one that keeps them; "" = the
    # schema's default (bow, which pools the text into one vector)
    text_encoder_default: str = ""

    # ------------------------------------------------------------ model and training

    def head_size(self, feature: Feature) -> int:
        """Units of its head on the shared model (row tasks)."""
        raise NotImplementedError(f"task '{self.type}' builds its own model")

    def build(self, config: Any, preprocessing: Preprocessing) -> nn.Module:
        """The whole model, for tasks with `own_model`."""
        raise NotImplementedError(f"task '{self.type}' is a head on the shared model")

    def loss(self, output: Any) -> Loss:
        """(model output (B, ...), target (B, ...)) -> mean loss, for the output `output` (config)."""
        raise NotImplementedError

    def fitted_loss(self, output: Any, feature: Feature) -> Loss:
        """The loss once the output's feature is fitted (classifiers: weighted by the class
        weights of the training split); by default `loss`."""
        return self.loss(output)

    def train_step(self, output: Any):
        """The task's own training step (train/loop.Step: (Training, batch, share, update) ->
        detached loss), for two optimizers or averaged weights; None: the default
        `train.loop.gradient_step` on the loss above."""
        return None

    def augmenter(self, feature: Feature):
        """Training-time augmentation that changes its targets with the inputs (masks moving
        with their image: data/augment.py), or None (the default)."""
        return None

    def masks_missing_labels(self, output: Any) -> bool:
        """Whether, with several outputs, rows without this output's label must be skipped by
        wrapping the loss (`heads.skip_missing`); False where the loss skips them itself."""
        return True

    # ------------------------------------------------------------ evaluation and prediction

    def metric_names(self, output: Any) -> list[str]:
        """The metrics `score` reports for the output `output` (config), best known first."""
        return list(self.metrics)

    def epoch_metrics(self, output: Any) -> list[str]:
        """The validation metrics the epoch line shows (default: the first two)."""
        return self.metric_names(output)[:2]

    def labelled(self, feature: Feature, target: torch.Tensor) -> torch.Tensor | None:
        """(N,) bool: rows with this output's label; None: every row kept has one."""
        return None

    def seen(self, feature: Feature, target: torch.Tensor) -> torch.Tensor | None:
        """(N,) bool: labelled rows a loss can be computed on (classes seen in training)."""
        return self.labelled(feature, target)

    def compact(
        self, feature: Feature, scores: torch.Tensor, target: torch.Tensor | None
    ) -> Tensors:
        """What evaluation keeps of one batch's outputs for this output, batch by batch as
        they come (`evaluate.infer`): {`feature.name`: (B, ...), other keys: (B, ...)}.
        `scores`: the model's float outputs for the batch; `target`: its labels, or None when
        predicting. Default (`compacts = False`, and this is not called): the scores as they
        are. A task whose outputs are large keeps less (a segmenter: the class per pixel,
        not K scores), with what `loss_of` needs to compute its loss exactly."""
        return {feature.name: scores}

    def loss_of(self, feature: Feature, loss: Loss, outputs: Tensors) -> float | None:
        """The split's mean loss from what `compact` kept in `outputs`, or None: computed as
        in training, `loss(outputs[name], target)`."""
        return None

    def score(
        self, feature: Feature, outputs: Tensors, table: Table, details: bool
    ) -> tuple[dict[str, float], Any]:
        """(metrics, report details or {}) of this output over all the rows of `table`.
        `outputs`: the model's outputs for them; `table.frame` holds the raw labels."""
        raise NotImplementedError

    def record(self, feature: Feature) -> dict[str, Any]:
        """What metrics.json records of this output besides its scores and row counts (a
        binary output's `positive_class`); nothing by default."""
        return {}

    def predictions(self, feature: Feature, outputs: Tensors) -> dict[str, Any]:
        """Prediction columns {`<output>_prediction`: (N,) values, ...} for `predict`."""
        raise NotImplementedError

    def prediction_files(self, feature: Feature, predictions: Any, out: Any) -> Any:
        """`predict --out FILE`: the predictions table (a DataFrame) as written to `out` (a
        Path), after writing what is better kept as files beside it (predicted masks); the
        table unchanged by default."""
        return predictions

    # scikit-learn baselines (modelyard.baselines): "classifier" or "regressor" for outputs
    # with a value per row, "" for none; `main_metric` is what they are compared on.
    baseline: str = ""
    main_metric: str = ""

    def baseline_outputs(self, feature: Feature, scores: Any) -> torch.Tensor:
        """The model's output tensor for a baseline's predictions `scores`: (N, C) class
        probabilities in the order of `classes` (classifiers) or (N,) values on the scale of
        the output's target tensor (regressors)."""
        raise NotImplementedError(f"task '{self.type}' has no baselines")

    def classes(self, feature: Feature) -> list[str] | None:
        """The class names of a classifier's output, in the order of its scores; None when
        the task predicts something else (a number, a sequence)."""
        return None

    # ------------------------------------------------------------ explain and export

    importance_metric: str = ""  # the metric whose drop permutation importance measures

    def explained(self, feature: Feature, values: torch.Tensor) -> torch.Tensor:
        """What `modelyard explain` attributes, differentiable in the model's output `values`:
        (B, C) class probabilities, or (B,) values in the data's own units."""
        raise NotImplementedError(f"task '{self.type}' cannot be explained")

    def explain_rows(
        self,
        model: Any,
        feature: Feature,
        frame: Any,
        method: str,
        rows: int | None,
        target: str | None,
    ) -> dict[str, Any] | None:
        """`modelyard explain`'s whole result for this output, for tasks that explain in their
        own way (a heatmap per class of a mask); None: the per-row methods of explain/."""
        return None

    def distillation_loss(
        self, student: torch.Tensor, teacher: torch.Tensor, temperature: float
    ) -> torch.Tensor:
        """How far a student's output is from its teacher's: (B, ...) scores each -> scalar
        (tasks with the "distill" capability)."""
        raise NotImplementedError(f"task '{self.type}' cannot be distilled")

    def output_meaning(self, feature: Feature) -> str:
        """What the model's raw output for it is, for those who run an exported graph."""
        return "raw scores; see the run's config"

    # ------------------------------------------------------------ config

    def check(self, config: Any, index: int) -> list[str]:
        """Messages for what is wrong with `config.outputs[index]` given the whole config
        (inputs it needs, losses it accepts); empty when nothing is."""
        return []

    def supports(self, capability: str) -> bool:
        if capability not in CAPABILITIES:
            raise ValueError(f"unknown capability '{capability}'; known: {sorted(CAPABILITIES)}")
        return capability in self.capabilities
