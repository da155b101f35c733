"""The Python API of link prediction: fit embeddings on triples, measure filtered ranking,
predict the missing entity of (h, r, ?) and (?, r, t) queries.

`Model.from_config` returns a `LinkPredictor` for `task: link_prediction` configs (and
`Model.load` for such a run). Training runs through the shared skeleton (fitting.Fitting)
and loop (train/loop.py): same run directory, checkpoints, --resume, early stopping and
`keep: best` on the validation MRR; test is measured once, at the end.

model/ holds modelyard.json (the resolved config), preprocessing.json (entity and relation
names in code order), known.safetensors (every known triple, to mark known answers),
weights.safetensors, meta.json, and for other tools entity_embeddings.npy (E, width) with
entities.tsv (one name per line, in the same order: TensorBoard projector's metadata).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from modelyard import run
from modelyard.errors import UserError
from modelyard.fitting import Fitting
from modelyard.linkpred.data import Graph
from modelyard.train.progress import log

KNOWN_FILE = "known.safetensors"
EMBEDDINGS_FILE = "entity_embeddings.npy"
ENTITIES_FILE = "entities.tsv"
PER_RELATION_FILE = "per_relation.csv"


@dataclass
class _Prepared:
    graph: Graph
    known: Any  # metrics.KnownAnswers of every known triple


class LinkPredictor(Fitting):
    """Entity and relation embeddings (linkpred/build.py: one network per `model.type`)
    trained with 1-N softmax or negative sampling, evaluated by filtered ranking."""

    reads_from_config = "link prediction reads its triples from the config (data.train, data.file)"

    def __init__(self, config, base_dir: Path | None = None):
        self.config = config
        self.base_dir = base_dir or Path.cwd()
        self.module: torch.nn.Module | None = None
        self.metrics: dict[str, Any] = {}
        self.history: list[dict[str, float]] = []
        self.entity_ids: np.ndarray | None = None
        self.relation_ids: np.ndarray | None = None
        self.known_triples: np.ndarray | None = None  # (N, 3) codes
        self._per_relation = None

    @property
    def slots(self) -> int:
        """Relations the network holds: each relation, and its inverse where trained."""
        return len(self.relation_ids) * (2 if self.config.training.inverse_relations else 1)

    # ------------------------------------------------------------ the steps of Fitting

    def _prepare(self, data, saved_run: Path | None, procs) -> _Prepared:
        from modelyard.linkpred.data import read_graph
        from modelyard.linkpred.metrics import KnownAnswers
        from modelyard.linkpred.objectives import queries

        graph = read_graph(self.config.data, self.config.split, self.base_dir)
        self.entity_ids, self.relation_ids = graph.entity_ids, graph.relation_ids
        self.known_triples = graph.known()
        inverse = self.config.training.inverse_relations
        known = KnownAnswers(queries(self.known_triples, graph.relations, inverse), graph.entities)
        if procs.is_main:
            sizes = ", ".join(f"{len(t)} {name}" for name, t in graph.triples.items())
            log(f"triples: {sizes}; {graph.entities} entities, {graph.relations} relations")
        return _Prepared(graph, known)

    def _build(self, prepared: _Prepared) -> torch.nn.Module:
        from modelyard.linkpred.build import NetworkSize, build_network, margin_of

        size = NetworkSize(prepared.graph.entities, self.slots, margin_of(self.config))
        return build_network(self.config.model, size)

    def _objective(
        self,
        prepared: _Prepared,
        generator: torch.Generator | None = None,
        regularize=True,
        triples: np.ndarray | None = None,
    ):
        """The training loss on `triples` (default: the training triples); `regularize:
        False` leaves the regularizer out (held-out loss)."""
        from modelyard.linkpred.build import margin_of
        from modelyard.linkpred.metrics import KnownAnswers
        from modelyard.linkpred.objectives import (
            head_probabilities,
            negative_sampling_objective,
            queries,
            softmax_objective,
        )

        settings = self.config.training
        weight = settings.weight if regularize else 0.0
        if settings.loss == "softmax":
            answers = None
            if settings.queries != "triples":
                triples = prepared.graph.triples["train"] if triples is None else triples
                asked = queries(triples, len(self.relation_ids), settings.inverse_relations)
                answers = KnownAnswers(asked, prepared.graph.entities)
            per_answer = settings.queries == "grouped"
            return softmax_objective(
                settings.label_smoothing, settings.regularizer, weight, answers, per_answer
            )
        chance = None
        if settings.corruption == "bernoulli":
            chance = head_probabilities(prepared.graph.triples["train"], len(self.relation_ids))
        return negative_sampling_objective(
            settings, margin_of(self.config), weight, chance, generator
        )

    def _validation(self, prepared: _Prepared, device: torch.device, bf16: bool):
        if len(prepared.graph.triples["validation"]) == 0:
            return None

        def validate(network) -> dict[str, float]:
            found = self._measure(network, prepared, "validation", device)
            return {k: v for k, v in found.items() if isinstance(v, float)}

        return validate

    def _epoch_metrics(self) -> tuple[str, ...]:
        return ("mrr", "hits_at_10")

    def _train_source(self, prepared: _Prepared):
        from modelyard.data.source import InMemorySource
        from modelyard.linkpred.objectives import training_tensors

        tensors = training_tensors(
            prepared.graph.triples["train"], self.config.training, len(self.relation_ids)
        )
        settings = self.config.trainer
        return InMemorySource(tensors, settings.batch_size, settings.seed)

    def _final_metrics(self, prepared: _Prepared, device: torch.device) -> dict[str, Any]:
        network = self.module.to(device)
        self.metrics = {
            split: self._measure(network, prepared, split, device, final=True)
            for split in ("validation", "test")
            if len(prepared.graph.triples[split])
        }
        return {}

    def _save_start(self, run_dir: Path, prepared: _Prepared) -> None:
        run.write_config(run_dir, self.config)
        (run_dir / run.MODEL_DIR).mkdir(parents=True, exist_ok=True)

    def _save_end(self, run_dir: Path, details: dict[str, Any]) -> None:
        if self._per_relation is not None:
            self._per_relation.to_csv(run_dir / PER_RELATION_FILE, index=False)
        super()._save_end(run_dir, details)

    # ------------------------------------------------------------ measuring

    @torch.no_grad()
    def _measure(
        self, network, prepared: _Prepared, split: str, device: torch.device, final: bool = False
    ) -> dict[str, Any]:
        """The training objective (without the regularizer) and the filtered ranking metrics
        of `split`'s triples; `final`: with row counts, protocol, and (test) per relation."""
        from modelyard.linkpred.metrics import (
            PROTOCOL,
            TIE_RULE,
            filtered_ranks,
            per_relation,
            summarize,
        )
        from modelyard.linkpred.objectives import queries

        inner = getattr(network, "module", network)
        was_training = inner.training
        inner.eval()
        triples = prepared.graph.triples[split]
        asked = queries(triples, len(self.relation_ids), self.config.training.inverse_relations)
        chunk = self.config.evaluation.query_chunk
        ranks = filtered_ranks(inner, asked, prepared.known, chunk, device)
        found: dict[str, Any] = {"loss": self._held_out_loss(inner, prepared, triples, device)}
        found.update(summarize(ranks))
        inner.train(was_training)
        if not final:
            return found
        found.update(rows=len(triples), queries=len(ranks), protocol=PROTOCOL, tie_rule=TIE_RULE)
        if split in prepared.graph.left_out:
            found["rows_left_out"] = prepared.graph.left_out[split]
        if split == "test" and self.config.evaluation.per_relation:
            self._per_relation = per_relation(
                ranks, np.concatenate([triples[:, 1], triples[:, 1]]), self.relation_ids
            )
        return found

    def _held_out_loss(self, network, prepared, triples: np.ndarray, device) -> float:
        """The training objective (no regularizer) on held-out triples, negatives drawn from
        a fixed seed."""
        from modelyard.linkpred.objectives import training_tensors

        tensors = training_tensors(triples, self.config.training, len(self.relation_ids))
        generator = torch.Generator(device).manual_seed(self.config.split.seed)
        objective = self._objective(prepared, generator, regularize=False, triples=triples)
        size, rows = self.config.trainer.eval_batch_size, len(tensors["relation"])
        total = 0.0
        for start in range(0, rows, size):
            batch = {k: v[start : start + size].to(device) for k, v in tensors.items()}
            total += float(objective(network, batch)) * len(batch["relation"])
        return total / max(rows, 1)

    # ------------------------------------------------------------ applying

    def _known_answers(self, extra: np.ndarray | None = None):
        from modelyard.linkpred.metrics import KnownAnswers
        from modelyard.linkpred.objectives import queries

        triples = (
            self.known_triples if extra is None else np.concatenate([self.known_triples, extra])
        )
        inverse = self.config.training.inverse_relations
        return KnownAnswers(queries(triples, len(self.relation_ids), inverse), len(self.entity_ids))

    def predict_links(self, asked, k: int = 10, exclude_known: bool = False):
        """The `k` most plausible entities for each query: `asked` is a DataFrame of head,
        relation, tail names with the head or the tail missing (None, empty or "?"). Returns
        a DataFrame of query (its row, from 1), head, relation, tail (the missing one filled
        in), predicted ("head" or "tail"), rank (1 = best), score and known (the triple is
        one of the training, validation or test triples; `exclude_known` leaves those out).
        Unknown names or malformed queries: a UserError."""
        from modelyard.linkpred.query import encode_queries, top_entities

        if k < 1:
            raise UserError(f"--k {k}: give 1 or more entities to predict")
        asked_codes = encode_queries(self, asked)
        return top_entities(self, asked_codes, k, exclude_known)

    def evaluate(self, data: Any) -> dict[str, Any]:
        """Filtered ranking metrics on a triples file (read with the config's data.columns,
        header and separator) or a DataFrame of head, relation, tail names. Triples of
        entities or relations the model does not know are left out and counted; the filter
        is every triple the model knows plus those evaluated."""
        from modelyard.linkpred.query import evaluate_triples

        return evaluate_triples(self, data)

    def predict(self, data: Any, **options: Any):
        """Queries from a file (a triples file with '?' or an empty field for the missing
        entity) or a DataFrame: `predict_links`."""
        from modelyard.linkpred.query import read_queries

        return self.predict_links(read_queries(self, data), **options)

    def create_app(self, **options: Any):
        """`modelyard serve`'s app (linkpred/serve.py)."""
        from modelyard.linkpred.serve import create_link_app

        return create_link_app(self, **options)

    def require(self, capability: str, tool: str) -> None:
        if capability == "serve":
            return
        raise UserError(
            f"{tool} works on supervised runs; this is a link prediction run (use `modelyard predict RUN --head H --relation R`)"
        )

    def generate(self, prompt: str, **options: Any) -> str:
        raise UserError(
            "generate needs a causal language model (task: language_model); this is a link prediction run"
        )

    def embedding_table(self) -> tuple[np.ndarray, list[str], str]:
        """(E, width) entity vectors (complex models: real parts, then imaginary), names."""
        return self.module.entity_vectors().cpu().float().numpy(), list(self.entity_ids), "entities"

    # ------------------------------------------------------------ saving

    def save(self, directory: str | Path) -> None:
        """The whole model folder (see the module's docstring)."""
        from safetensors.torch import save_file

        import modelyard

        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        known = torch.from_numpy(self.known_triples.astype(np.int32))
        save_file({"triples": known}, str(folder / KNOWN_FILE))
        np.save(folder / EMBEDDINGS_FILE, self.module.entity_vectors().cpu().numpy())
        lines = [name.replace("\t", " ").replace("\n", " ") for name in self.entity_ids]
        (folder / ENTITIES_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
        run.save_model(
            folder,
            self.config.model_dump(mode="json"),
            {"entity_ids": self.entity_ids.tolist(), "relation_ids": self.relation_ids.tolist()},
            self.module.state_dict(),
            {
                "modelyard_version": modelyard.__version__,
                "torch_version": torch.__version__,
                "task": "link_prediction",
                "entities": len(self.entity_ids),
                "relations": len(self.relation_ids),
            },
        )

    @classmethod
    def load(cls, folder: Path) -> LinkPredictor:
        from safetensors.torch import load_file

        from modelyard.linkpred.build import NetworkSize, build_network, margin_of

        model, weights = cls._open_saved(folder)
        names = run.read_json(folder / "preprocessing.json")
        model.entity_ids = np.asarray(names["entity_ids"], dtype=str)
        model.relation_ids = np.asarray(names["relation_ids"], dtype=str)
        known = load_file(str(folder / KNOWN_FILE))["triples"]
        model.known_triples = known.numpy().astype(np.int64)
        size = NetworkSize(len(model.entity_ids), model.slots, margin_of(model.config))
        return model._finish_loading(build_network(model.config.model, size), weights)
