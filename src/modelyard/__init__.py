"""modelyard: from data to a working deep-learning model with one YAML file.

    from modelyard import Model
    model = Model.from_config("config.yaml").fit(output_dir="runs/penguins")
    model.predict(frame)

Heavy libraries (torch, pandas) load on first use, so `import modelyard` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Model", "UserError", "__version__"]

if TYPE_CHECKING:
    from modelyard.api import Model
    from modelyard.errors import UserError


def __getattr__(name: str):
    if name == "Model":
        from modelyard.api import Model

        return Model
    if name == "UserError":
        from modelyard.errors import UserError

        return UserError
    raise AttributeError(f"module 'modelyard' has no attribute '{name}'")
