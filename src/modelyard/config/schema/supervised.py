"""The supervised task's config: inputs -> encoders -> combiner -> outputs."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt

from modelyard.config.schema.common import Probability, Strict, tagged_union
from modelyard.config.schema.data import Data
from modelyard.config.schema.inputs import Input
from modelyard.config.schema.outputs import Output
from modelyard.config.schema.trainer import Trainer


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
    data: Data = Data()
    inputs: Annotated[list[Input], Field(min_length=1)]
    outputs: Annotated[list[Output], Field(min_length=1)]
    combiner: Combiner = MlpCombiner()
    trainer: Trainer = Trainer()
