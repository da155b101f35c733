"""Plugins: Python modules that register their own tasks (`modelyard.tasks.register`) before
a command reads its config.

The CLI imports the modules of installed packages' `modelyard.plugins` entry points, then
those named in the environment variable `MODELYARD_PLUGINS` (comma-separated module names,
importable from `sys.path`, e.g. by `PYTHONPATH`). From Python, import the module yourself.
"""

from __future__ import annotations

import importlib
import os

from modelyard.errors import UserError

ENV = "MODELYARD_PLUGINS"
ENTRY_POINTS = "modelyard.plugins"


def load_plugins() -> None:
    """Import every plugin module (Python imports each once). A plugin that cannot be
    imported is the user's error, naming it and why."""
    from importlib.metadata import entry_points

    for point in entry_points(group=ENTRY_POINTS):
        _import(point.value.split(":")[0], f"entry point '{point.name}' ({ENTRY_POINTS})")
    for name in filter(None, (n.strip() for n in os.environ.get(ENV, "").split(","))):
        _import(name, ENV)


def _import(module: str, where: str) -> None:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name != module.split(".")[0] and e.name != module:
            raise UserError(
                f"{where}: plugin '{module}' needs '{e.name}', which is not installed"
            ) from None
        raise UserError(
            f"{where}: no module '{module}' to import; install it or add its folder to PYTHONPATH"
        ) from None
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - the plugin's own code failed: say where, plainly
        raise UserError(
            f"{where}: importing plugin '{module}' failed: {type(e).__name__}: {e}"
        ) from None
