"""Reading QA tables: the split keeps articles whole, offsets are recomputed, references
are read, and config checks name what to change."""

from __future__ import annotations

import pandas as pd
import pytest

from modelyard.config import validate
from modelyard.config.schema.question_answering import QaColumns, QaSplit
from modelyard.errors import ConfigError, UserError
from modelyard.qa.data import questions_of, split_by_group
from tests.qa_fixtures import rows


def test_the_split_never_puts_one_article_in_two_splits():
    frame = pd.DataFrame(rows(60)).assign(title=[f"a{i // 3}" for i in range(60)])
    parts = split_by_group(frame, "title", QaSplit(validation=0.2, test=0.2, seed=3))
    titles = {name: set(part["title"]) for name, part in parts.items()}
    assert sum(len(p) for p in parts.values()) == 60
    assert not titles["train"] & titles["test"] and not titles["train"] & titles["validation"]
    assert len(titles["test"]) == 4 and len(titles["validation"]) == 4


def test_a_wrong_offset_is_recomputed_and_references_are_all_read():
    table = pd.DataFrame(rows(3))
    table.loc[1, "answer_start"] = 0  # points at "a dog", not at the answer
    found = questions_of(table, QaColumns(), "train data")
    context, (start, end) = found.contexts[1], found.spans[1]
    assert context[start:end] == table.loc[1, "answer"]
    assert found.references[1] == [table.loc[1, "answer"], table.loc[1, "answer"].split()[-1]]


def test_an_empty_answer_is_an_error_unless_questions_may_have_none():
    table = pd.DataFrame(rows(3)).assign(answers="")
    table.loc[2, "answer"] = ""
    with pytest.raises(UserError, match="train data row 3: the answer .* is empty"):
        questions_of(table, QaColumns(), "train data")
    found = questions_of(table, QaColumns(), "train data", no_answer=True)
    assert found.spans[2] is None and found.references[2] == []


def _config(**settings):
    return {"task": "question_answering", "data": {"train": "t.jsonl"}, **settings}


def test_config_checks_name_the_key_to_change():
    with pytest.raises(ConfigError, match="windows.stride"):
        validate(_config(windows={"max_length": 64, "stride": 40}))
    with pytest.raises(ConfigError, match="trainer.early_stopping.metric"):
        validate(_config(trainer={"early_stopping": {"metric": "accuracy"}}))
    assert validate(_config()).windows.stride is None
