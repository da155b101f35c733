"""Knowledge distillation (Hinton et al. 2015) into a smaller student described by a config.

Per output: loss = alpha * KL(softmax(teacher / T) || softmax(student / T)) * T^2
                 + (1 - alpha) * the output's own task loss against the labels.
A binary output's single logit z is treated as the two classes (0, z); a number output has no
temperature, its soft term is the mean squared difference from the teacher's prediction.

Distillation works on the teacher's outputs, not its tensors: the teacher's outputs are computed
once per training row (eval mode, the teacher's own preprocessing), and the student reads the
same rows through its own preprocessing (an input whose settings or encoder kind differ from the
teacher's gets its own fitted tokenizer / vocabulary; a pretrained input its own checkpoint), so
MiniLM distils into a small cnn or transformer. The teacher's outputs ride along in the
student's training tensors, matched by row, and the student trains with the ordinary
`train.loop.fit` through this objective. Hand-written: the loss is a few lines of torch, and no
installed library offers it for our batch dicts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import torch

from modelyard.config.schema import Config
from modelyard.errors import UserError
from modelyard.train.loop import Objective, Tensors

TEACHER = "__teacher__."  # prefix of the teacher's outputs among the training tensors


def soft_loss(
    output: Any, student: torch.Tensor, teacher: torch.Tensor, temperature: float
) -> torch.Tensor:
    """Distillation term for one output (its config): (B, C) or (B,) student and teacher
    scores -> scalar, as the output's task defines it (`Task.distillation_loss`)."""
    from modelyard.tasks import task_of

    return task_of(output).distillation_loss(student, teacher, temperature)


def distillation_objective(config, temperature: float, alpha: float) -> Objective:
    """(student, batch with the teacher's outputs) -> the weighted sum over outputs."""
    from modelyard.models.build import build_losses

    losses = build_losses(config)
    outputs = {o.name: o for o in config.outputs}

    def objective(student, batch: Tensors) -> torch.Tensor:
        predictions = student(batch)
        total = []
        for name, (weight, task_loss) in losses.items():
            soft = soft_loss(outputs[name], predictions[name], batch[TEACHER + name], temperature)
            hard = task_loss(predictions[name], batch[name])
            total.append(weight * (alpha * soft + (1 - alpha) * hard))
        return torch.stack(total).sum()

    return objective


def distill(
    teacher,
    student_config: str | Path,
    train: pd.DataFrame,
    epochs: int | None,
    temperature: float,
    alpha: float,
):
    """Train the student of `student_config` on `train` from `teacher` (an api.Model).
    Returns (student api.Model, history, {what was done})."""
    from modelyard.compress import training
    from modelyard.config import load_config
    from modelyard.models.build import build_model

    config, base = load_config(student_config)
    _check_student(teacher.config, config, str(student_config))
    rows, outputs = _teacher_outputs(teacher, train.reset_index(drop=True))
    student = _student(teacher, config, base, rows)
    torch.manual_seed(config.trainer.seed)
    student.module = build_model(config, student.preprocessing)

    def teacher_outputs(table) -> Tensors:
        """The teacher's outputs for the rows the student's table kept, in its order."""
        at = torch.as_tensor(rows.index.get_indexer(table.frame.index))
        return {TEACHER + name: value[at] for name, value in outputs.items()}

    rounds = epochs if epochs is not None else config.trainer.epochs
    objective = distillation_objective(config, temperature, alpha)
    history = training.train(student, rows, rounds, objective, teacher_outputs)
    return (
        student,
        history,
        {
            "student": str(student_config),
            "temperature": temperature,
            "alpha": alpha,
            "epochs": rounds,
        },
    )


def _teacher_outputs(teacher, frame: pd.DataFrame) -> tuple[pd.DataFrame, Tensors]:
    """(the rows the teacher's preprocessing keeps, {output: (N, ...) teacher scores})."""
    from modelyard.evaluate import infer

    table = teacher.preprocessing.prepare(frame, "train")
    teacher._log_notes()
    outputs = infer(
        teacher.module,
        teacher._inputs(table),
        torch.device("cpu"),
        False,
        teacher.config.trainer.eval_batch_size,
    )
    return table.frame, outputs


def _student(teacher, config, base: Path, rows: pd.DataFrame):
    """An api.Model for the student's config: the teacher's fitted outputs (the same classes, in
    the same order); each input the teacher's fitted state where the student reads it the same
    way, else fitted on `rows`; pretrained inputs from the student's own checkpoints."""
    from modelyard.api import Model
    from modelyard.data.features import Preprocessing
    from modelyard.models.encoders.pretrained import checkpoint_sources

    student = Model(config, base)
    student.preprocessing = Preprocessing(config, checkpoint_sources(config, base))
    state = teacher.preprocessing.state()
    for old, new in zip(teacher.preprocessing.inputs, student.preprocessing.inputs, strict=True):
        if _reads_alike(old.config, new.config):
            new.load_state(state[new.name])
        else:
            new.fit(rows[new.column])
    for output in student.preprocessing.outputs:
        output.load_state(state[output.name])
    return student


def _reads_alike(teacher, student) -> bool:
    """Same settings, and neither uses a pretrained checkpoint's tokenizer (whose state is the
    checkpoint itself: the student loads its own); a bow encoder's n-gram settings are part
    of its preprocessing, so bow reads alike only the same bow."""
    kinds = (teacher.encoder.type, student.encoder.type)
    if "pretrained" in kinds or ("bow" in kinds and teacher.encoder != student.encoder):
        return False
    dump = [
        {k: v for k, v in f.model_dump(mode="json").items() if k != "encoder"}
        for f in (teacher, student)
    ]
    return dump[0] == dump[1]


def _check_student(teacher, student, source: str) -> None:
    """Same task, outputs and inputs (names, types, columns); encoders, input preprocessing,
    combiner and trainer settings may differ. (That the teacher's tasks can be distilled,
    `compress` checks first: Model.require.)"""
    if not isinstance(student, Config) or not isinstance(teacher, Config):
        raise UserError(
            f"--student '{source}': distillation works between supervised models (task: supervised)"
        )
    t_out = [o.model_dump(mode="json") for o in teacher.outputs]
    s_out = [o.model_dump(mode="json") for o in student.outputs]
    if t_out != s_out:
        raise UserError(
            f"--student '{source}': outputs must be the teacher's, exactly: {_names(teacher.outputs)}"
        )
    if _names(teacher.inputs) != _names(student.inputs):
        raise UserError(
            f"--student '{source}': inputs must be the teacher's ({_names(teacher.inputs)}), in the same order; got {_names(student.inputs)}"
        )
    for t, s in zip(teacher.inputs, student.inputs, strict=True):
        if (t.column or t.name) != (s.column or s.name):
            raise UserError(
                f"--student '{source}': input '{s.name}' must read the teacher's column '{t.column or t.name}'"
            )


def _names(features) -> list[str]:
    return [f"{f.name} ({f.type})" for f in features]
