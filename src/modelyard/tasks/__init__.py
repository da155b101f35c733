"""Task families, and the one place they are registered.

`registered()` lists the tasks, `task_of(output)` finds one by its output's `type` (an output
config or its feature). `register(task)` adds one, from a plugin or a test: its `schema`
joins the config schema (`modelyard schema`, validation with suggestions), its `feature`
preprocesses its labels, and training, evaluation, prediction and the tools use its methods.
"""

from __future__ import annotations

from typing import Any

from modelyard.tasks.base import CAPABILITIES, HIGHER, LOWER, Task

__all__ = ["CAPABILITIES", "HIGHER", "LOWER", "Task", "register", "registered", "task_of"]

_TASKS: dict[str, Task] = {}
_BUILTINS_REGISTERED = False


def register(task: Task) -> Task:
    """Add `task` under its output type; a type registered twice, or a metric whose
    direction contradicts another task's, is an error."""
    _register_builtins()
    return _add(task)


def _add(task: Task) -> Task:
    if not task.type:
        raise ValueError(f"{type(task).__name__} has no output type")
    if task.type in _TASKS:
        raise ValueError(f"output type '{task.type}' is registered twice")
    for other in _TASKS.values():
        for name, direction in task.metrics.items():
            if other.metrics.get(name, direction) != direction:
                raise ValueError(
                    f"metric '{name}' of task '{task.type}' is better when {direction}imal, "
                    f"but '{other.type}' declares it {other.metrics[name]}imal; rename one"
                )
    _TASKS[task.type] = task
    return task


def unregister(output_type: str) -> None:
    """Remove a task added by `register` (tests that register one of their own)."""
    del _TASKS[output_type]


def registered() -> list[Task]:
    _register_builtins()
    return list(_TASKS.values())


def task_of(output: Any) -> Task:
    """The task of an output: its config entry or its feature (anything with `.type`)."""
    _register_builtins()
    return _TASKS[output.type]


def _register_builtins() -> None:
    global _BUILTINS_REGISTERED
    if _BUILTINS_REGISTERED:
        return
    _BUILTINS_REGISTERED = True
    from modelyard.tasks.rows import BinaryTask, CategoryTask, NumberTask
    from modelyard.tasks.segmentation import SegmentationTask
    from modelyard.tasks.summary import SummaryTask
    from modelyard.tasks.tagging import TaggingTask
    from modelyard.tasks.text import TextTask

    for task in (
        CategoryTask(),
        BinaryTask(),
        NumberTask(),
        TaggingTask(),
        TextTask(),
        SummaryTask(),
        SegmentationTask(),
    ):
        _add(task)
