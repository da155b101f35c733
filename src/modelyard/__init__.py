"""modelyard: from data to a working deep-learning model with one YAML file.

    from modelyard import Model
    model = Model.from_config("config.yaml").fit(output_dir="runs/penguins")
    model.predict(frame)

Heavy libraries (torch, pandas) load on first use, so `import modelyard` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Model", "UserError", "__version__", "compare_runs", "cross_validate"]

if TYPE_CHECKING:
    from modelyard.api import Model
    from modelyard.compare import compare_runs
    from modelyard.cv import cross_validate
    from modelyard.errors import UserError


def __getattr__(name: str):
    if name == "Model":
        from modelyard.api import Model

        return Model
    if name == "UserError":
        from modelyard.errors import UserError

        return UserError
    if name == "cross_validate":
        from modelyard.cv import cross_validate

        return cross_validate
    if name == "compare_runs":
        from modelyard.compare import compare_runs

        return compare_runs
    raise AttributeError(f"module 'modelyard' has no attribute '{name}'")
