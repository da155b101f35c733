"""Reading question-answering tables, checking them, and the split by group (article).

A row is a question on a context with its answer; problems are the user's to fix and name
their file, row and column: a missing column, an empty question or context, an answer that
is not in its context (an answer_start that points elsewhere, while the text occurs, is
recomputed to the nearest occurrence, with a note of how many).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from modelyard.errors import UserError
from modelyard.train.progress import log

SPLITS = ("train", "validation", "test")


@dataclass
class Questions:
    """N questions: their texts, contexts, answer spans ([start, end) characters; None: no
    answer, or unlabelled rows) and references (every reference text, for the metrics);
    `rows`: how errors name each row; `frame`: the rows as read."""

    questions: list[str]
    contexts: list[str]
    spans: list[tuple[int, int] | None]
    references: list[list[str]]
    rows: list[str]
    frame: pd.DataFrame

    def __len__(self) -> int:
        return len(self.questions)


def read_qa_table(path: Path) -> pd.DataFrame:
    """A table with every cell as read (CSV/TSV cells as text: an answer "1945" stays text)."""
    from modelyard.data.read import read_table

    if path.suffix.lower() in (".csv", ".tsv") and path.is_file():
        separator = "\t" if path.suffix.lower() == ".tsv" else ","
        try:
            frame = pd.read_csv(path, sep=separator, dtype=str, keep_default_na=False)
        except (ValueError, OSError) as e:
            raise UserError(f"data file '{path}' could not be read: {e}") from None
        if len(frame) == 0:
            raise UserError(f"data file '{path}' has no rows")
        return frame
    return read_table(path)


def read_splits(config, base: Path) -> dict[str, pd.DataFrame]:
    """{split: table} of the config's data: given files, or `data.train` cut by `split`."""
    data = config.data
    tables = {
        name: read_qa_table(_resolve(base, getattr(data, name)))
        for name in SPLITS
        if getattr(data, name) is not None
    }
    if len(tables) == 1:
        tables = split_by_group(tables["train"], data.columns.group, config.split)
    return tables


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def split_by_group(frame: pd.DataFrame, group: str | None, split) -> dict[str, pd.DataFrame]:
    """Whole groups (articles) per split, shuffled with `split.seed`: about `split.validation`
    and `split.test` of the groups held out; each row its own group without such a column."""
    keys = frame[group].astype(str) if group and group in frame.columns else frame.index.astype(str)
    unique = np.array(sorted(set(keys)))
    np.random.default_rng(split.seed).shuffle(unique)
    held = {
        "test": int(round(split.test * len(unique))),
        "validation": int(round(split.validation * len(unique))),
    }
    if split.test and held["test"] == 0 or split.validation and held["validation"] == 0:
        raise UserError(
            f"data: {len(unique)} groups ('{group}') are too few to hold out validation and test "
            "shares; give more data, or validation/test files"
        )
    chosen = {
        "test": set(unique[: held["test"]]),
        "validation": set(unique[held["test"] : held["test"] + held["validation"]]),
    }
    chosen["train"] = set(unique) - chosen["test"] - chosen["validation"]
    return {name: frame[keys.isin(chosen[name]).to_numpy()] for name in SPLITS if chosen[name]}


def questions_of(
    frame: pd.DataFrame, columns, where: str, labels: bool = True, no_answer: bool = False
) -> Questions:
    """Check one table and read its questions. `labels=False` (predict): only question and
    context are needed. `no_answer`: an empty answer means the question has none."""
    needed = [columns.question, columns.context] + ([columns.answer] if labels else [])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise UserError(
            f"{where}: no column {', '.join(repr(c) for c in missing)}; the columns are "
            f"{', '.join(map(str, frame.columns))} (set data.columns to name yours)"
        )
    rows = [_row_name(i) for i in frame.index]
    questions = _texts(frame[columns.question], where, rows, "question", columns.question)
    contexts = _texts(frame[columns.context], where, rows, "context", columns.context)
    spans: list[tuple[int, int] | None] = [None] * len(frame)
    references: list[list[str]] = [[] for _ in range(len(frame))]
    if labels:
        spans, references = _answers(frame, columns, contexts, where, rows, no_answer)
    return Questions(questions, contexts, spans, references, rows, frame)


def _row_name(index) -> str:
    return f"row {index + 1}" if isinstance(index, int | np.integer) else f"row '{index}'"


def _texts(series: pd.Series, where: str, rows: list[str], what: str, column: str) -> list[str]:
    texts = ["" if _missing(v) else str(v) for v in series]
    for i, text in enumerate(texts):
        if not text.strip():
            raise UserError(
                f"{where} {rows[i]}: the {what} (column '{column}') is empty; give every row one"
            )
    return texts


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _answers(frame, columns, contexts, where: str, rows, no_answer: bool):
    """(spans, references) of every row; recomputed offsets are counted in a note."""
    answers = ["" if _missing(v) else str(v) for v in frame[columns.answer]]
    starts = _starts(frame, columns.answer_start, len(answers))
    extra = frame[columns.answers] if columns.answers and columns.answers in frame else None
    spans, references, moved = [], [], 0
    for i, (answer, context) in enumerate(zip(answers, contexts, strict=True)):
        if not answer.strip():
            if not no_answer:
                raise UserError(
                    f"{where} {rows[i]}: the answer (column '{columns.answer}') is empty; give the "
                    "span of the context that answers the question, or set answers.no_answer: true "
                    "for questions without an answer (SQuAD 2.0)"
                )
            spans.append(None)
            references.append([])
            continue
        start, found = _locate(answer, context, starts[i])
        if start < 0:
            raise UserError(
                f"{where} {rows[i]}: the answer {answer[:60]!r} (column '{columns.answer}') is "
                f"not in its context (column '{columns.context}'); an extractive answer must be "
                "a span of the context, copied exactly"
            )
        moved += not found
        spans.append((start, start + len(answer)))
        references.append(_references(answer, extra.iloc[i] if extra is not None else None))
    if moved and starts[0] is not None:
        log(f"{where}: {moved} answer offsets did not point at the answer; recomputed")
    return spans, references


def _starts(frame, column: str | None, count: int) -> list[int | None]:
    if not column or column not in frame.columns:
        return [None] * count
    values = pd.to_numeric(frame[column], errors="coerce")
    return [None if np.isnan(v) else int(v) for v in values]


def _locate(answer: str, context: str, given: int | None) -> tuple[int, bool]:
    """(start of `answer` in `context`, whether `given` was it); -1 where it does not occur.
    A wrong `given` gives the occurrence nearest to it."""
    if given is not None and context[given : given + len(answer)] == answer:
        return given, True
    starts, at = [], context.find(answer)
    while at >= 0:
        starts.append(at)
        at = context.find(answer, at + 1)
    if not starts:
        return -1, False
    near = given if given is not None else 0
    return min(starts, key=lambda s: abs(s - near)), given is None


def _references(answer: str, extra) -> list[str]:
    """The answer and the row's further references (a JSON list, or a list)."""
    if extra is None or (isinstance(extra, float) and np.isnan(extra)):
        return [answer]
    if isinstance(extra, str):
        if not extra.strip():
            return [answer]
        try:
            extra = json.loads(extra)
        except ValueError:
            extra = [extra]  # one further reference, as text
    texts = extra if isinstance(extra, list | tuple | np.ndarray) else [extra]
    return list(dict.fromkeys([answer, *map(str, texts)]))


def check_questions(config, base: Path) -> list[str]:
    """`modelyard validate`: read and check every split as training would."""
    tables = read_splits(config, base)
    lines = []
    for name, frame in tables.items():
        found = questions_of(
            frame, config.data.columns, f"{name} data", no_answer=config.answers.no_answer
        )
        lines.append(f"{name}: {len(found)} questions")
    return lines
