"""The supervised task's config: inputs -> encoders -> combiner -> outputs."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, PositiveInt, create_model, model_validator

from modelyard.config.schema.common import Probability, Strict, tagged_union
from modelyard.config.schema.data import Data
from modelyard.config.schema.evaluation import Evaluation
from modelyard.config.schema.gbdt import Gbdt
from modelyard.config.schema.inputs import Input
from modelyard.config.schema.outputs import BUILTIN_OUTPUTS, Output
from modelyard.config.schema.trainer import Tracking, Trainer


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


Combiner = tagged_union(MlpCombiner, ConcatCombiner)


class Config(Strict):
    """A supervised model: inputs -> encoders -> combiner -> outputs, trained on a table."""

    task: Literal["supervised"] = "supervised"
    name: str = "run"
    model_type: Literal["neural", "gbdt"] = Field(
        "neural",
        description="neural: encoders -> combiner -> heads, trained by the trainer; gbdt: "
        "gradient-boosted trees per output (the `gbdt` section; tables of numbers, binaries "
        "and categories only; see README 'Gradient-boosted trees').",
    )
    gbdt: Gbdt | None = None
    data: Data = Data()
    inputs: Annotated[list[Input], Field(min_length=1)]
    outputs: Annotated[list[Output], Field(min_length=1)]
    combiner: Combiner = MlpCombiner()
    trainer: Trainer = Trainer()
    tracking: Tracking = Tracking()
    evaluation: Evaluation | None = Field(
        None,
        description="Per-group (fairness) metrics over sensitive columns, and an optional "
        "post-processing mitigation (see README 'Fairness').",
    )
    baselines: bool = Field(
        True,
        description="After training, also fit scikit-learn baselines (linear, gradient "
        "boosting, TF-IDF for text) on the same rows and record them in metrics.json "
        "(row outputs only; see README 'Baselines').",
    )

    @model_validator(mode="before")
    @classmethod
    def _gbdt_defaults(cls, data: Any) -> Any:
        """`model_type: gbdt` without a `gbdt` section gets its defaults (shown in config.yaml)."""
        if isinstance(data, dict) and data.get("model_type") == "gbdt" and data.get("gbdt") is None:
            return {**data, "gbdt": {}}
        return data

    @model_validator(mode="before")
    @classmethod
    def _text_encoder_default(cls, raw: Any) -> Any:
        """A text input naming no encoder gets bow (TextInput's default), or the encoder an
        output's task asks for when it reads every token (`Task.text_encoder_default`: cnn
        for tags and text decoders)."""
        if not isinstance(raw, dict) or not isinstance(raw.get("outputs"), list):
            return raw
        from modelyard.tasks import registered

        asked = {t.type: t.text_encoder_default for t in registered() if t.text_encoder_default}
        wanted = [
            asked[o["type"]]
            for o in raw["outputs"]
            if isinstance(o, dict) and o.get("type") in asked
        ]
        if not wanted or not isinstance(raw.get("inputs"), list):
            return raw
        inputs = [
            {**i, "encoder": {"type": wanted[0]}}
            if isinstance(i, dict) and i.get("type") == "text" and "encoder" not in i
            else i
            for i in raw["inputs"]
        ]
        return {**raw, "inputs": inputs}


def config_model() -> type[Config]:
    """The supervised config's schema, its `outputs` open to every registered output type:
    `Config` itself while only the built-in ones are registered."""
    from modelyard.tasks import registered

    schemas = tuple(task.schema for task in registered())
    if set(schemas) == set(BUILTIN_OUTPUTS):
        return Config
    if schemas not in _EXTENDED:
        output = Annotated[Union[schemas], Field(discriminator="type")]  # noqa: UP007
        _EXTENDED[schemas] = create_model(
            "Config",
            __base__=Config,
            __doc__=Config.__doc__,
            outputs=(Annotated[list[output], Field(min_length=1)], ...),
        )
    return _EXTENDED[schemas]


_EXTENDED: dict[tuple, type[Config]] = {}
