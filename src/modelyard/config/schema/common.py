"""What every part of the schema shares: the strict base model, value types, tagged unions."""

from __future__ import annotations

import typing
from typing import Annotated, Any, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag

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


def tagged_union(*models: type[Strict]) -> Any:
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
