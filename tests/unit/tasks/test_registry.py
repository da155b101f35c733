"""Registering a task: its schema joins the config, its metrics their directions, its own
training step replaces the default; conflicts are refused."""

from __future__ import annotations

import pytest
import torch

from modelyard import Model
from modelyard.config import validate
from modelyard.errors import ConfigError
from modelyard.metrics import metric_mode
from modelyard.tasks import LOWER, register, registered, task_of, unregister
from modelyard.tasks.rows import NumberTask
from modelyard.train.loop import gradient_step
from tests.conftest import make_table


class AveragedNumberTask(NumberTask):
    """A number output trained with an exponential moving average of the weights (EMA),
    through the task's own training step."""

    type = "averaged_number"
    metrics = {**NumberTask.metrics, "averaged_gap": LOWER}

    def __init__(self):
        self.steps = 0
        self.average: dict[str, torch.Tensor] = {}

    def train_step(self, output):
        def step(run, batch, share, update):
            loss = gradient_step(run, batch, share, update)
            self.steps += 1
            for name, p in run.model.state_dict().items():
                if p.is_floating_point():
                    old = self.average.get(name, p.detach().clone())
                    self.average[name] = 0.9 * old + 0.1 * p.detach()
            return loss

        return step


def _config(output_type: str) -> dict:
    return {
        "data": {"split": {"validation": 0.25, "test": 0.0}},
        "inputs": [{"name": "x1", "type": "number"}],
        "outputs": [{"name": "amount", "type": output_type}],
        "trainer": {"epochs": 2, "batch_size": 16},
    }


def test_a_registered_tasks_own_step_trains_and_its_metrics_have_directions():
    from typing import Literal

    from modelyard.config.schema import NumberOutput

    class AveragedOutput(NumberOutput):
        type: Literal["averaged_number"]

    task = AveragedNumberTask()
    task.schema = AveragedOutput
    register(task)
    try:
        model = Model(validate(_config("averaged_number"))).fit(train=make_table(64))
        assert task.steps == 2 * 3  # 48 training rows in batches of 16, 2 epochs
        assert task.average.keys() == model.module.state_dict().keys()
        assert metric_mode("amount.averaged_gap") == "min"
        final = model.module.state_dict()
        assert not torch.equal(
            task.average["heads.0.linear.weight"], final["heads.0.linear.weight"]
        )
    finally:
        unregister("averaged_number")
    with pytest.raises(ConfigError, match="unknown output type 'averaged_number'"):
        validate(_config("averaged_number"))


def test_a_type_registered_twice_is_refused():
    with pytest.raises(ValueError, match="output type 'number' is registered twice"):
        register(NumberTask())


def test_a_metric_declared_with_the_opposite_direction_is_refused():
    class Contrary(NumberTask):
        type = "contrary"
        metrics = {"r2": LOWER}

    with pytest.raises(ValueError, match="metric 'r2' of task 'contrary'"):
        register(Contrary())
    assert "contrary" not in [t.type for t in registered()]


def test_every_built_in_output_type_has_a_task_with_its_schema():
    from modelyard.config.schema.outputs import BUILTIN_OUTPUTS

    for schema in BUILTIN_OUTPUTS:
        output_type = schema.model_fields["type"].annotation.__args__[0]
        assert task_of(schema.model_construct(type=output_type)).schema is schema
