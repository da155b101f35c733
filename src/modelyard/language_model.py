"""The Python API of language-model pretraining: fit on a corpus, evaluate perplexity, generate.

`Model.from_config` returns a `LanguageModel` for `task: language_model` configs, so the CLI
and users treat both alike. The run's model/ folder is a Hugging Face checkpoint.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from modelyard import run
from modelyard.config import validate
from modelyard.data.source import InMemorySource
from modelyard.errors import UserError
from modelyard.fitting import Fitting
from modelyard.models.encoders.pretrained import quiet_transformers
from modelyard.train.progress import log


@dataclass
class _Corpus:
    """What fitting a language model prepares: (N, block) token ids of the training and
    validation blocks, the objective, and (once built) the network the loop trains."""

    train: torch.Tensor
    validation: torch.Tensor
    loss: Any
    network: torch.nn.Module | None = None


class LanguageModel(Fitting):
    """A BERT- or GPT-style model pretrained from scratch on plain text."""

    def __init__(self, config, base_dir: Path | None = None):
        quiet_transformers()
        self.config = config
        self.base_dir = base_dir or Path.cwd()
        self.tokenizer = None
        self.module: torch.nn.Module | None = None
        self.metrics: dict[str, dict[str, float]] = {}
        self.history: list[dict[str, float]] = []

    @property
    def architecture(self) -> str:
        return self.config.model.architecture

    def fit(
        self, *, output_dir: str | Path | None = None, resume: bool = False, overwrite: bool = False
    ) -> LanguageModel:
        """Train the tokenizer (rank 0; reloaded on resume), pack blocks, train with the spine's
        loop. Runs are kept safe as in `Model.fit` (overwrite replaces only once finished)."""
        return self._fit_run(output_dir, resume, overwrite)

    # The steps of fitting.Fitting's skeleton, for a language model.

    def _prepare(self, data, saved_run: Path | None, procs) -> _Corpus:
        """Train the tokenizer (rank 0; reloaded on resume) and pack the corpus into blocks."""
        from modelyard.tasks import language_model as lm

        train_lines, validation_lines = lm.read_corpus(self.config.corpus, self.base_dir)
        self.tokenizer = self._tokenizer(train_lines, saved_run, procs)
        block = self.config.block_size
        corpus = _Corpus(
            lm.pack_blocks(train_lines, self.tokenizer, block, self.architecture),
            lm.pack_blocks(validation_lines, self.tokenizer, block, self.architecture),
            lm.objective(self.architecture, self.tokenizer, self.config.mlm_probability),
        )
        if procs.is_main:
            log(
                f"corpus: {len(corpus.train)} training and {len(corpus.validation)} validation blocks of {block} tokens; vocabulary {len(self.tokenizer)}"
            )
        return corpus

    def _build(self, corpus: _Corpus) -> torch.nn.Module:
        from modelyard.tasks import language_model as lm

        return lm.build_model(self.config.model, self.tokenizer, self.config.block_size)

    def _objective(self, corpus: _Corpus):
        return corpus.loss

    def _network(self, corpus: _Corpus) -> torch.nn.Module:
        """The model with its loss (tasks/language_model.LanguageModelLoss), trained by the loop."""
        from modelyard.tasks import language_model as lm

        corpus.network = lm.LanguageModelLoss(self.module, self.architecture)
        return corpus.network

    def _validation(self, corpus: _Corpus, device: torch.device, bf16: bool):
        from modelyard.tasks import language_model as lm

        batch_size = self.config.trainer.eval_batch_size
        return lambda m: lm.held_out_loss(
            m, corpus.validation, corpus.loss, device, bf16, batch_size
        )

    def _epoch_metrics(self) -> tuple[str, ...]:
        return ("perplexity",)

    def _train_source(self, corpus: _Corpus) -> InMemorySource:
        settings = self.config.trainer
        return InMemorySource({"input_ids": corpus.train}, settings.batch_size, settings.seed)

    def _final_metrics(self, corpus: _Corpus, device: torch.device) -> dict[str, Any]:
        from modelyard.tasks import language_model as lm

        held_out = lm.held_out_loss(
            corpus.network,
            corpus.validation,
            corpus.loss,
            device,
            False,
            self.config.trainer.eval_batch_size,
        )
        self.metrics = {"validation": held_out}
        return {}

    def _tokenizer(self, lines: list[str], saved_run: Path | None, procs):
        from transformers import AutoTokenizer

        from modelyard.tasks import language_model as lm

        if saved_run is not None:
            return AutoTokenizer.from_pretrained(str(saved_run / run.MODEL_DIR))
        tokenizer = (
            lm.train_tokenizer(
                lines, self.config.tokenizer, self.architecture, self.config.block_size
            )
            if procs.is_main
            else None
        )
        if procs.world > 1:  # one tokenizer for all: rank 0 trains it, the others receive it
            import torch.distributed as dist
            from transformers import PreTrainedTokenizerFast

            box = [
                tokenizer.backend_tokenizer.to_str() if procs.is_main else None,
                dict(tokenizer.special_tokens_map) if procs.is_main else None,
            ]
            dist.broadcast_object_list(box, src=0)
            if not procs.is_main:
                from tokenizers import Tokenizer

                tokenizer = PreTrainedTokenizerFast(
                    tokenizer_object=Tokenizer.from_str(box[0]),
                    model_max_length=self.config.block_size,
                    **box[1],
                )
        return tokenizer

    def _save_start(self, run_dir: Path, corpus: _Corpus) -> None:
        run.write_config(run_dir, self.config)
        folder = run_dir / run.MODEL_DIR
        folder.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(str(folder))
        run.write_json(folder / run.CONFIG_FILE, self.config.model_dump(mode="json"))

    def _save_end(self, run_dir: Path, details: dict[str, Any]) -> None:
        self.save(run_dir / run.MODEL_DIR)
        report = run.write_results(
            run_dir, self.config, self.metrics, self.history, details, self.writes_report
        )
        final = run.final_dir(run_dir)
        shown = f" (report: {final / report.relative_to(run_dir)})" if report else ""
        log(f"run saved to {final}{shown}; load it with transformers from {final / run.MODEL_DIR}")

    # ------------------------------------------------------------ applying

    def require(self, capability: str, tool: str) -> None:
        """No tool of `modelyard.tasks.CAPABILITIES` applies to a language model: the
        UserError saying what to do instead of `tool`."""
        raise UserError(
            _INSTEAD.get(capability, f"{tool} works on supervised runs; this is a language model")
        )

    def evaluate(self, data: str | Path | list[str]) -> dict[str, float]:
        """Loss and perplexity on a text file (or a list of lines)."""
        from modelyard.tasks import language_model as lm

        lines = data if isinstance(data, list) else lm.read_lines([str(data)], Path.cwd(), "data")
        blocks = lm.pack_blocks(lines, self.tokenizer, self.config.block_size, self.architecture)
        loss_fn = lm.objective(self.architecture, self.tokenizer, self.config.mlm_probability)
        return lm.held_out_loss(
            lm.LanguageModelLoss(self.module, self.architecture),
            blocks,
            loss_fn,
            torch.device("cpu"),
            False,
            self.config.trainer.eval_batch_size,
        )

    def predict(self, data: Any, **options: Any):
        raise UserError(
            "a language model has no predictions to write; use `modelyard generate` (causal models) or `evaluate`"
        )

    def generate(
        self,
        prompt: str,
        max_new_tokens: int = 50,
        temperature: float = 1.0,
        top_k: int = 50,
        top_p: float = 1.0,
        greedy: bool = False,
        seed: int | None = None,
        stream: bool = False,
    ) -> str:
        """Continue `prompt`: greedy, or sampling with temperature / top-k / top-p. `stream` prints
        tokens to stdout as they come. Returns the prompt and its continuation."""
        from transformers import GenerationConfig, TextStreamer

        if self.architecture != "gpt2":
            raise UserError(
                f"this is a masked language model ({self.architecture}); generate needs a causal one (model.architecture: gpt2)"
            )
        if not prompt:
            raise UserError("--prompt is empty; give some text to continue")
        _check_sampling(max_new_tokens, temperature, top_k, top_p)
        if seed is not None:
            torch.manual_seed(seed)
        generation = GenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=not greedy,
            temperature=temperature if not greedy else 1.0,
            top_k=top_k if not greedy else 50,
            top_p=top_p if not greedy else 1.0,
            pad_token_id=self.tokenizer.eos_token_id,
            eos_token_id=self.tokenizer.eos_token_id,
        )
        inputs = self.tokenizer(prompt, return_tensors="pt")
        room = self.config.block_size - inputs["input_ids"].shape[1]
        if room <= 0:
            raise UserError(
                f"the prompt has {inputs['input_ids'].shape[1]} tokens; the model's context is {self.config.block_size}"
            )
        generation.max_new_tokens = min(max_new_tokens, room)
        streamer = TextStreamer(self.tokenizer) if stream else None
        with torch.no_grad():
            output = self.module.generate(**inputs, generation_config=generation, streamer=streamer)
        if stream:
            sys.stdout.flush()
        return self.tokenizer.decode(output[0], skip_special_tokens=True)

    # ------------------------------------------------------------ saving

    def save(self, directory: str | Path) -> None:
        """A Hugging Face checkpoint (weights, config, tokenizer) plus modelyard.json and meta.json."""
        meta = {"task": "language_model", "architecture": self.architecture}
        run.save_hf_checkpoint(Path(directory), self.module, self.tokenizer, self.config, meta)

    @classmethod
    def load(cls, folder: Path) -> LanguageModel:
        from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

        from modelyard.models.encoders.pretrained import quiet_transformers

        quiet_transformers()
        model = cls(
            validate(run.read_json(folder / run.CONFIG_FILE), str(folder / run.CONFIG_FILE))
        )
        if not any(folder.glob("*.safetensors")):
            raise UserError(
                f"'{folder}' has no weights; the training did not finish (resume it: fit(output_dir=..., resume=True) / modelyard train --resume)"
            )
        auto = AutoModelForCausalLM if model.architecture == "gpt2" else AutoModelForMaskedLM
        model.module = auto.from_pretrained(str(folder)).eval()
        model.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        metrics = folder.parent / "metrics.json"
        model.metrics = run.read_json(metrics) if metrics.is_file() else {}
        return model


_INSTEAD = {
    "export": "a language model's model/ folder already is a Hugging Face checkpoint; export it with transformers or optimum",
    "serve": "serve needs a supervised run; a language model has no /predict (use `modelyard generate`)",
}


def _check_sampling(max_new_tokens: int, temperature: float, top_k: int, top_p: float) -> None:
    """Generation settings a user can get wrong, each named with what is allowed (NaN too)."""
    if max_new_tokens < 1:
        raise UserError(f"max_new_tokens {max_new_tokens}: generate at least 1 token")
    if not 0 < temperature < float("inf"):
        raise UserError(f"temperature {temperature}: give a number above 0 (1 = unchanged)")
    if top_k < 0:
        raise UserError(f"top_k {top_k}: give 0 (off) or more tokens")
    if not 0 < top_p <= 1:
        raise UserError(f"top_p {top_p}: give a probability mass above 0, at most 1 (1 = off)")
