"""The Python API of extractive question answering: fine-tune a pretrained encoder to find
the answer span in a context; measure exact match and F1; predict answers.

`Model.from_config` returns a `QuestionAnswerer` for `task: question_answering` configs (and
`Model.load` for such a run). Training runs through the shared skeleton (fitting.Fitting)
and loop (train/loop.py): one training example per window, the validation F1 after every
epoch (early stopping and `keep: best` follow it), test measured once at the end.

model/ is a Hugging Face question-answering checkpoint (weights, config, tokenizer:
`transformers.pipeline("question-answering", model=...)` loads it) plus modelyard.json
(the resolved config) and meta.json.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from modelyard import run
from modelyard.errors import UserError
from modelyard.fitting import Fitting
from modelyard.qa.data import Questions, questions_of, read_splits
from modelyard.qa.spans import Answer, Choice, best_answers
from modelyard.qa.windows import Windows, label, make_windows
from modelyard.train.progress import log

PREDICTION_COLUMNS = ("prediction", "prediction_start", "prediction_end", "prediction_score")


@dataclass
class _Split:
    questions: Questions
    windows: Windows


class QuestionAnswerer(Fitting):
    """A pretrained encoder with a start/end layer over each window of a (question, context)."""

    reads_from_config = "question answering reads its tables from the config (data.train)"

    def __init__(self, config, base_dir: Path | None = None):
        self.config = config
        self.base_dir = base_dir or Path.cwd()
        self.tokenizer = None
        self.module: torch.nn.Module | None = None
        self.metrics: dict[str, Any] = {}
        self.history: list[dict[str, float]] = []

    @property
    def choice(self) -> Choice:
        a = self.config.answers
        return Choice(a.max_answer_length, a.n_best, a.no_answer, a.no_answer_threshold)

    # ------------------------------------------------------------ the steps of Fitting

    def _checkpoint(self) -> Path:
        from modelyard.models.encoders.pretrained import resolve_checkpoint

        return resolve_checkpoint(self.config.model.pretrained, self.base_dir)

    def _prepare(self, data, saved_run: Path | None, procs) -> dict[str, _Split]:
        from modelyard.qa.network import load_fast_tokenizer

        source = saved_run / run.MODEL_DIR if saved_run is not None else self._checkpoint()
        self.tokenizer = load_fast_tokenizer(source)
        tables = read_splits(self.config, self.base_dir)
        prepared = {name: self._split(frame, f"{name} data") for name, frame in tables.items()}
        for part in prepared.values():
            label(part.windows, part.questions.spans)
        if procs.is_main:
            sizes = ", ".join(
                f"{len(p.questions)} {name} questions ({len(p.windows)} windows)"
                for name, p in prepared.items()
            )
            log(f"data: {sizes}")
        return prepared

    def _split(self, frame: pd.DataFrame, where: str, labels: bool = True, columns=None) -> _Split:
        """The questions of `frame` (checked) and their windows; `columns`: other than the
        config's (a served request's)."""
        columns = columns or self.config.data.columns
        questions = questions_of(frame, columns, where, labels, self.config.answers.no_answer)
        w = self.config.windows
        windows = make_windows(
            self.tokenizer,
            questions.questions,
            questions.contexts,
            w.max_length,
            w.stride,
            [f"{where} {r}" for r in questions.rows],
        )
        return _Split(questions, windows)

    def _build(self, prepared) -> torch.nn.Module:
        from modelyard.qa.network import load_span_model

        return load_span_model(self._checkpoint(), self.config.model.init == "random")

    def _objective(self, prepared):
        from modelyard.qa.network import span_loss

        return span_loss

    def _validation(self, prepared, device: torch.device, bf16: bool):
        if "validation" not in prepared:
            return None
        part = prepared["validation"]
        return lambda network: self._measure(network, part, device, bf16)[0]

    def _epoch_metrics(self) -> tuple[str, ...]:
        return ("exact_match", "f1")

    def _train_source(self, prepared):
        from modelyard.data.source import InMemorySource

        settings = self.config.trainer
        return InMemorySource(prepared["train"].windows.tensors, settings.batch_size, settings.seed)

    def _final_metrics(self, prepared, device: torch.device) -> dict[str, Any]:
        from modelyard.train.precision import use_bf16

        bf16 = use_bf16(self.config.trainer.precision, device)
        network = self.module.to(device)
        self.metrics = {}
        for name in ("validation", "test"):
            if name in prepared:
                found, _ = self._measure(network, prepared[name], device, bf16)
                self.metrics[name] = found
        return {}

    def _save_start(self, run_dir: Path, prepared) -> None:
        run.write_config(run_dir, self.config)
        folder = run_dir / run.MODEL_DIR
        folder.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(str(folder))  # a resumed run reads it back

    # ------------------------------------------------------------ measuring

    @torch.no_grad()
    def _measure(
        self, network, part: _Split, device: torch.device, bf16: bool
    ) -> tuple[dict[str, float], list[Answer]]:
        """({loss, exact_match, f1, rows, windows, seconds, questions_per_second}, answers)."""
        from modelyard.qa.metrics import squad_scores

        began = time.perf_counter()
        start, end, loss = self._scores(network, part.windows, device, bf16)
        answers = best_answers(part.windows, start, end, part.questions.contexts, self.choice)
        found = {"loss": loss}
        found.update(squad_scores([a.text for a in answers], part.questions.references))
        seconds = time.perf_counter() - began
        found.update(
            rows=len(part.questions),
            windows=len(part.windows),
            seconds=seconds,
            questions_per_second=len(part.questions) / max(seconds, 1e-9),
        )
        return found, answers

    def _scores(self, network, windows: Windows, device, bf16: bool):
        """(W, L) start and end scores of every window, and the mean span loss where the
        windows are labelled (NaN otherwise)."""
        from torch.nn import functional as F

        from modelyard.qa.network import span_logits
        from modelyard.train.precision import autocast

        inner = getattr(network, "module", network)
        was_training = inner.training
        inner.eval()
        size = self.config.trainer.eval_batch_size
        starts, ends, total = [], [], 0.0
        labelled = "start" in windows.tensors
        for at in range(0, len(windows), size):
            batch = {k: v[at : at + size].to(device) for k, v in windows.tensors.items()}
            with autocast(device, bf16):
                start, end = span_logits(inner, batch)
            starts.append(start.cpu())
            ends.append(end.cpu())
            if labelled:
                loss = F.cross_entropy(start, batch["start"], reduction="sum")
                total += float(loss + F.cross_entropy(end, batch["end"], reduction="sum")) / 2
        inner.train(was_training)
        width = windows.offsets.shape[1]
        empty = torch.zeros(0, width)
        loss = total / max(len(windows), 1) if labelled else float("nan")
        return (torch.cat(starts) if starts else empty, torch.cat(ends) if ends else empty, loss)

    # ------------------------------------------------------------ applying

    def _as_frame(self, data: Any) -> pd.DataFrame:
        from modelyard.qa.data import read_qa_table

        if isinstance(data, pd.DataFrame):
            return data
        return read_qa_table(Path(data))

    def evaluate(self, data: Any) -> dict[str, float]:
        """exact_match and f1 (percent) on a labelled table (or DataFrame)."""
        part = self._split(self._as_frame(data), "data")
        label(part.windows, part.questions.spans)
        found, _ = self._measure(self.module, part, torch.device("cpu"), self._bf16())
        return found

    def _bf16(self) -> bool:
        from modelyard.train.precision import use_bf16

        return use_bf16(self.config.trainer.precision, torch.device("cpu"))

    def answer(self, questions: list[str], contexts: list[str]) -> list[Answer]:
        """The answer of each (question, context): text, character start and end, score."""
        frame = pd.DataFrame({"question": questions, "context": contexts})
        columns = self.config.data.columns.model_copy(
            update={"question": "question", "context": "context"}
        )
        return self._answers(self._split(frame, "request", labels=False, columns=columns))

    def _answers(self, part: _Split) -> list[Answer]:
        start, end, _ = self._scores(self.module, part.windows, torch.device("cpu"), self._bf16())
        return best_answers(part.windows, start, end, part.questions.contexts, self.choice)

    def predict(self, data: Any, include_inputs: bool = False, **options: Any) -> pd.DataFrame:
        """One row per question: its id (where the table has the id column), `prediction`
        (the answer text), `prediction_start`/`prediction_end` (its characters in the
        context, end exclusive) and `prediction_score` (its probability among the
        candidates); `include_inputs`: question and context too."""
        frame = self._as_frame(data)
        columns = self.config.data.columns
        part = self._split(frame, "data", labels=False)
        answers = self._answers(part)
        out = pd.DataFrame(index=frame.index)
        if columns.id and columns.id in frame.columns:
            out[columns.id] = frame[columns.id]
        if include_inputs:
            out["question"], out["context"] = part.questions.questions, part.questions.contexts
        values = [(a.text, a.start, a.end, a.score) for a in answers]
        for i, name in enumerate(PREDICTION_COLUMNS):
            out[name] = [v[i] for v in values]
        return out.reset_index(drop=True)

    def create_app(self, **options: Any):
        """`modelyard serve`'s app (qa/serve.py)."""
        from modelyard.qa.serve import create_qa_app

        return create_qa_app(self, **options)

    def explain_rows(self, data: Any, rows: int | None, method: str) -> dict[str, Any]:
        """`modelyard explain`: the tokens that drove each answer's start and end (qa/explain.py)."""
        from modelyard.qa.explain import explain_answers

        return explain_answers(self, self._as_frame(data), rows, method)

    def require(self, capability: str, tool: str) -> None:
        if capability in ("serve", "attributions"):
            return
        raise UserError(
            f"{tool} works on supervised runs; this is a question answering run (its model/ folder "
            "is a Hugging Face question-answering checkpoint: export or compress it with transformers/optimum)"
        )

    def generate(self, prompt: str, **options: Any) -> str:
        raise UserError(
            "generate needs a causal language model (task: language_model); this is a question answering run"
        )

    # ------------------------------------------------------------ saving

    def save(self, directory: str | Path) -> None:
        """A Hugging Face QA checkpoint (weights, config, tokenizer) plus modelyard.json and meta.json."""
        from modelyard.models.size import model_size

        meta = {"task": "question_answering", "parameters": model_size(self.module)}
        run.save_hf_checkpoint(Path(directory), self.module, self.tokenizer, self.config, meta)

    @classmethod
    def load(cls, folder: Path) -> QuestionAnswerer:
        from modelyard.config import validate
        from modelyard.qa.network import load_fast_tokenizer, load_span_model

        config_file = folder / run.CONFIG_FILE
        model = cls(validate(run.read_json(config_file), str(config_file)))
        if not any(folder.glob("*.safetensors")):
            raise UserError(
                f"'{folder}' has no weights; the training did not finish (resume it: modelyard train --resume)"
            )
        model.module = load_span_model(folder).eval()
        model.tokenizer = load_fast_tokenizer(folder)
        metrics = folder.parent / "metrics.json"
        model.metrics = run.read_json(metrics) if metrics.is_file() else {}
        return model
