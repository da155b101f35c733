"""Every metric the toolkit produces declares whether higher or lower is better; an unknown
name is an error, never a silent "higher is better"."""

from __future__ import annotations

import pytest
import torch

from modelyard import Model, UserError
from modelyard.metrics import ROW_COUNTS, directions, metric_mode
from tests.conftest import make_table, tiny_config


def _assert_declared(keys) -> None:
    """Each key is a declared metric (output prefix allowed) or a row count."""
    for key in keys:
        base = key.rsplit(".", 1)[-1]
        assert base in ROW_COUNTS or metric_mode(key) in ("min", "max"), key


@pytest.mark.parametrize("name", ["mse_ratio", "acc", "validation_loss", "label.f2"])
def test_an_unknown_metric_is_an_error_listing_the_known_ones(name):
    with pytest.raises(
        ValueError, match=f"unknown metric '{name}'; known: accuracy, average_precision, bleu"
    ):
        metric_mode(name)


def test_an_unknown_metric_from_the_config_is_a_user_error_naming_the_key():
    with pytest.raises(UserError, match="^trainer.early_stopping.metric: unknown metric 'acc'"):
        metric_mode("acc", key="trainer.early_stopping.metric")


def test_output_prefixes_are_ignored():
    assert metric_mode("label.mse") == metric_mode("a.b.log_loss") == "min"
    assert metric_mode("species.accuracy") == "max"


def test_every_row_metric_and_count_that_evaluate_writes_is_declared():
    config = tiny_config(epochs=1)
    config["inputs"] = config["inputs"][:3]
    config["data"] = {"split": {"validation": 0.0, "test": 0.0}}
    config["outputs"] = [
        {"name": "label", "type": "category"},
        {"name": "flag", "type": "binary", "positive": "true"},
        {"name": "amount", "type": "number"},
    ]
    frame = make_table(40)
    frame.loc[:4, "label"] = "new"  # unseen in training: a row count, `rows_unseen_class`
    found = Model.from_config(config).fit(train=frame[5:]).evaluate(frame)
    assert {"label.roc_auc", "amount.r2", "label.rows_unseen_class", "rows"} <= set(found)
    _assert_declared(found)


def test_every_tagging_text_and_language_model_metric_is_declared():
    import transformers as t

    from modelyard.metrics.tagging import tagging_metrics
    from modelyard.metrics.text import transcription_metrics
    from modelyard.metrics.translation import translation_metrics
    from modelyard.tasks.language_model import LanguageModelLoss, held_out_loss, objective

    tags = [["B-PER", "I-PER", "O"]]
    _assert_declared(tagging_metrics(tags, tags, entities=True))
    _assert_declared(translation_metrics(["a cat"], ["a dog"]))
    _assert_declared(transcription_metrics(["a cat"], ["a dog"]))
    gpt = t.GPT2LMHeadModel(t.GPT2Config(vocab_size=11, n_embd=8, n_layer=1, n_head=2))
    blocks = torch.randint(0, 11, (2, 5))
    loss_fn = objective("gpt2", None, 0.15)
    net = LanguageModelLoss(gpt, "gpt2")
    _assert_declared(held_out_loss(net, blocks, loss_fn, torch.device("cpu"), False, 2))
    assert set(directions().values()) == {"min", "max"}
