"""The distillation loss against its definition."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch.nn import functional as F

from modelyard.compress.distill import soft_loss


def _output(kind: str):
    from modelyard.tasks import task_of

    return task_of(SimpleNamespace(type=kind)).schema(name="y", type=kind)


def test_soft_loss_is_zero_when_the_student_matches_the_teacher():
    logits = torch.randn(5, 3)
    assert soft_loss(_output("category"), logits, logits, 2.0) == pytest.approx(0.0, abs=1e-6)


def test_soft_loss_is_kl_of_the_softened_distributions_times_t_squared():
    student, teacher, t = torch.randn(4, 3), torch.randn(4, 3), 3.0
    p = F.softmax(teacher / t, dim=1)
    kl = (p * (p.log() - F.log_softmax(student / t, dim=1))).sum(dim=1).mean()
    assert soft_loss(_output("category"), student, teacher, t) == pytest.approx(
        float(kl * t * t), rel=1e-5
    )


def test_a_binary_logit_is_two_classes_and_a_number_is_matched_by_mse():
    z, y = torch.randn(6), torch.randn(6)
    two = soft_loss(
        _output("category"), torch.stack([0 * z, z], 1), torch.stack([0 * y, y], 1), 2.0
    )
    assert soft_loss(_output("binary"), z, y, 2.0) == pytest.approx(float(two))
    assert soft_loss(_output("number"), z, y, 2.0) == pytest.approx(float(F.mse_loss(z, y)))


def test_a_student_or_teacher_that_is_not_a_supervised_model_is_refused():
    from modelyard.compress.distill import _check_student
    from modelyard.config.schema import Config, LanguageModelConfig
    from modelyard.errors import UserError

    rows = Config.model_validate(
        {
            "inputs": [{"name": "x", "type": "number"}],
            "outputs": [{"name": "y", "type": "category"}],
        }
    )
    pretraining = LanguageModelConfig.model_validate(
        {"task": "language_model", "corpus": {"train": ["corpus.txt"]}}
    )
    _check_student(rows, rows, "student.yaml")
    message = (
        "--student 'student.yaml': distillation works between supervised models (task: supervised)"
    )
    for teacher, student in ((rows, pretraining), (pretraining, rows)):
        with pytest.raises(UserError) as error:
            _check_student(teacher, student, "student.yaml")
        assert str(error.value) == message


@pytest.mark.parametrize(
    ("teacher", "student", "alike"),
    [
        ({"type": "cnn"}, {"type": "rnn"}, True),  # the same tokenizer
        ({"type": "cnn"}, {"type": "bow"}, False),  # token ids against n-grams
        ({"type": "bow"}, {"type": "bow"}, True),
        ({"type": "bow"}, {"type": "bow", "min_count": 1}, False),  # another vocabulary
    ],
)
def test_a_student_reuses_the_teachers_text_state_only_where_it_reads_alike(
    teacher, student, alike
):
    from modelyard.compress.distill import _reads_alike
    from modelyard.config.schema import TextInput

    texts = [TextInput(name="t", type="text", encoder=e) for e in (teacher, student)]
    assert _reads_alike(*texts) is alike
