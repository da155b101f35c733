"""The Python API of recommendation: fit on interactions, evaluate, recommend items per user.

`Model.from_config` returns a `Recommender` for `task: recommendation` configs (and
`Model.load` for such a run), so the CLI treats it like other runs. Training runs through the
shared skeleton (fitting.Fitting) and loop (train/loop.py): same run directory, checkpoints,
--resume, early stopping on validation, never on test.

model/ holds modelyard.json (the resolved config), preprocessing.json (the user and item ids,
as text, in code order, and the side features' fitted states), items.parquet / users.parquet
(the side features' raw columns in code order, recommend/side.py), seen.safetensors (every
known (user, item) pair, to exclude from recommendations), weights.safetensors and meta.json.
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
from modelyard.recommend.data import Interactions
from modelyard.train.progress import log

SEEN_FILE = "seen.safetensors"


@dataclass
class _Prepared:
    """The interactions and their split ({split: row indices})."""

    found: Interactions
    rows: dict[str, np.ndarray]

    def part(self, split: str) -> Interactions:
        return self.found.take(self.rows[split])


class Recommender(Fitting):
    """A recommendation model (recommend/build.py: one network per `model.type`) trained on
    ratings (MSE) or for ranking (BPR or sampled softmax)."""

    def __init__(self, config, base_dir: Path | None = None):
        self.config = config
        self.base_dir = base_dir or Path.cwd()
        self.module: torch.nn.Module | None = None
        self.metrics: dict[str, Any] = {}
        self.history: list[dict[str, float]] = []
        self.user_ids: np.ndarray | None = None
        self.item_ids: np.ndarray | None = None
        self.seen: tuple[np.ndarray, np.ndarray] | None = None  # (users, items) codes
        self.sides: dict = {}  # {"items" / "users": side.SideTable}

    @property
    def ranking(self) -> bool:
        return self.config.model.objective == "ranking"

    @property
    def _sequences(self):
        """The model type's recommend/build.SequenceTraining (sasrec), or None."""
        from modelyard.recommend.build import SEQUENCES

        return SEQUENCES.get(self.config.model.type)

    def fit(
        self,
        data: Any = None,
        *,
        output_dir: str | Path | None = None,
        resume: bool = False,
        overwrite: bool = False,
    ) -> Recommender:
        """Read (data.file, or `data`: a DataFrame with the configured columns) and split the
        interactions, train, measure validation and test."""
        return self._fit_run(output_dir, resume, overwrite, data)

    # ------------------------------------------------------------ the steps of Fitting

    def _prepare(self, data, saved_run: Path | None, procs) -> _Prepared:
        from modelyard.recommend.data import interactions_from_frame, read_interactions
        from modelyard.recommend.sampled import check_negatives
        from modelyard.recommend.side import add_side_ids, fit_sides, read_sides
        from modelyard.recommend.split import split_rows

        if data is None:
            found = read_interactions(self.config.data, self.base_dir)
        else:
            found = interactions_from_frame(data, self.config.data, "the DataFrame given to fit")
        self.sides = read_sides(self.config, self.base_dir, data, found)
        found = add_side_ids(found, self.sides)  # items and users known by features only
        rows = split_rows(found, self.config.split)
        held = np.concatenate([rows["validation"], rows["test"]])
        check_negatives(self.config.evaluation, found, held)
        fit_sides(self.sides, found.take(rows["train"]), self.base_dir)
        self.user_ids, self.item_ids = found.user_ids, found.item_ids
        self.seen = (found.users, found.items)
        if procs.is_main:
            sizes = ", ".join(f"{len(r)} {name}" for name, r in rows.items())
            log(
                f"interactions: {len(found)} ({sizes}) of {len(found.user_ids)} users and {len(found.item_ids)} items"
            )
        return _Prepared(found, rows)

    def _build(self, prepared: _Prepared) -> torch.nn.Module:
        from modelyard.recommend.build import NetworkData, build_network

        train = prepared.part("train")
        mean = float(train.ratings.mean()) if not self.ranking else 0.0
        data = NetworkData(len(self.user_ids), len(self.item_ids), mean, train, self.sides)
        return build_network(self.config.model, data)

    def _objective(self, prepared: _Prepared):
        if self._sequences is not None:  # sasrec: its own rows and objective
            return self._sequences.objective(self.config.model)
        return self._make_objective(prepared, self.config.model.l2)

    def _make_objective(self, prepared: _Prepared, l2: float, generator=None):
        """The pointwise objective of the config on (user, item) batches (`generator`: for the
        negatives drawn): the training objective, except for sequence models, whose held-out
        loss it measures."""
        from modelyard.recommend.networks import (
            full_softmax_objective,
            ranking_objective,
            ratings_objective,
            softmax_objective,
        )

        settings = self.config.model
        if self.ranking and settings.loss == "full_softmax":
            return full_softmax_objective(l2)
        if self.ranking and settings.loss == "softmax":
            frequency = None
            if settings.popularity_correction:
                train = prepared.part("train")
                counts = np.bincount(train.items, minlength=len(self.item_ids))
                frequency = torch.from_numpy(counts / max(len(train), 1)).float()
            return softmax_objective(l2, settings.negatives, generator, frequency)
        if self.ranking:
            return ranking_objective(l2, settings.negatives, generator)
        return ratings_objective(l2)

    def _validation(self, prepared: _Prepared, device: torch.device, bf16: bool):
        if len(prepared.rows["validation"]) == 0:
            return None

        def validate(network) -> dict[str, float]:
            found = self._measure(network, prepared, "validation", device)
            return {k: v for k, v in found.items() if not isinstance(v, str)}

        return validate

    def _epoch_metrics(self) -> tuple[str, ...]:
        k = self.config.evaluation.k[0]
        return (f"ndcg_at_{k}", f"recall_at_{k}") if self.ranking else ("rmse",)

    def _train_source(self, prepared: _Prepared):
        from modelyard.data.source import InMemorySource

        settings, train = self.config.trainer, prepared.part("train")
        own = self._sequences
        tensors = own.rows(self.config.model, train) if own is not None else _tensors(train)
        return InMemorySource(tensors, settings.batch_size, settings.seed)

    def _final_metrics(self, prepared: _Prepared, device: torch.device) -> dict[str, Any]:
        network, self.metrics = self.module.to(device), {}
        if len(prepared.rows["validation"]):
            self.metrics["validation"] = self._measure(network, prepared, "validation", device)
        if self._sequences is not None:  # test, and the saved model, continue after validation
            known = np.concatenate([prepared.rows["train"], prepared.rows["validation"]])
            self._sequences.remember(network, prepared.found.take(np.sort(known)))
        if len(prepared.rows["test"]):
            self.metrics["test"] = self._measure(network, prepared, "test", device)
        return {}

    def _save_start(self, run_dir: Path, prepared: _Prepared) -> None:
        run.write_config(run_dir, self.config)
        (run_dir / run.MODEL_DIR).mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------ measuring

    @torch.no_grad()
    def _measure(
        self, network, prepared: _Prepared, split: str, device: torch.device
    ) -> dict[str, Any]:
        """Validation or test metrics: the loss, and the rating errors (ratings) or the
        full-ranking metrics (ranking; excluded: training items, and for test validation's)."""
        was_training = network.training
        network.eval()
        held = prepared.part(split)
        found = {"loss": self._held_out_loss(network, prepared, held, device)}
        if self.ranking:
            found.update(self._ranking(network, prepared, split, device))
        else:
            found.update(self._rating_errors(network, held, device))
        found["rows"] = len(held)
        network.train(was_training)
        return found

    def _batches(self, held: Interactions, device: torch.device, size: int | None = None):
        size = size or self.config.trainer.eval_batch_size
        tensors = _tensors(held)
        for start in range(0, len(held), size):
            yield {k: v[start : start + size].to(device) for k, v in tensors.items()}

    def _held_out_loss(
        self, network, prepared: _Prepared, held: Interactions, device: torch.device
    ) -> float:
        """The training objective (without l2) on held-out interactions; negatives drawn from
        a fixed seed; softmax in batches of the training batch size (its in-batch negatives)."""
        generator = torch.Generator(device).manual_seed(self.config.split.seed)
        objective = self._make_objective(prepared, 0.0, generator)
        size = self.config.trainer.batch_size
        softmax = self.ranking and self.config.model.loss == "softmax"
        batches = self._batches(held, device, size if softmax and size != "full" else None)
        total = sum(float(objective(network, b)) * len(b["user"]) for b in batches)
        return total / max(len(held), 1)

    def _rating_errors(self, network, held: Interactions, device: torch.device) -> dict:
        from modelyard.recommend.metrics import rating_metrics

        predicted = torch.cat(
            [network(b["user"], b["item"]).float().cpu() for b in self._batches(held, device)]
        )
        return rating_metrics(predicted.numpy(), held.ratings)

    def _ranking(self, network, prepared: _Prepared, split: str, device: torch.device) -> dict:
        from modelyard.recommend.metrics import PROTOCOL, UserItems, ranking_metrics
        from modelyard.recommend.sampled import sampled_if_asked

        n_users = len(self.user_ids)
        known = ["train"] if split == "validation" else ["train", "validation"]
        rows = np.concatenate([prepared.rows[s] for s in known])
        held = prepared.part(split)
        if self.config.split.by == "cold_items":
            return self._cold_ranking(network, held, device)
        found = ranking_metrics(
            network.score_all,
            len(self.item_ids),
            UserItems(held.users, held.items, n_users),
            UserItems(prepared.found.users[rows], prepared.found.items[rows], n_users),
            np.unique(held.users),
            self.config.evaluation.k,
            self.config.evaluation.user_chunk,
            device,
        )
        every = (prepared.found.users, prepared.found.items)  # sampled negatives avoid all
        found.update(sampled_if_asked(self.config.evaluation, network, held, every))
        return {**found, "users": len(np.unique(held.users)), "protocol": PROTOCOL}

    def _cold_ranking(self, network, held: Interactions, device: torch.device) -> dict:
        from modelyard.recommend.cold import COLD_PROTOCOL, cold_ranking

        settings = self.config.evaluation
        found = cold_ranking(
            network.score_all,
            held.users,
            held.items,
            len(self.user_ids),
            settings.k,
            settings.user_chunk,
            device,
        )
        users = len(np.unique(held.users))
        return {
            **found,
            "users": users,
            "items": len(np.unique(held.items)),
            "protocol": COLD_PROTOCOL,
        }

    # ------------------------------------------------------------ applying

    def recommend(
        self,
        users: list[str],
        k: int = 10,
        include_seen: bool = False,
        fallback: str | None = None,
    ):
        """The `k` best items for each user id (as text) in `users`: a DataFrame of user,
        rank (1 = best), item, score, seen_excluded. Items the user is known to have
        interacted with are left out unless `include_seen`. Unknown ids: a UserError, or
        with `fallback="popular"` the most popular items, and a `source` column (model or
        popular) says which (recommend/apply.py)."""
        import pandas as pd

        from modelyard.recommend.metrics import UserItems, chunk_rows

        if fallback is not None:
            from modelyard.recommend.apply import recommend_with_fallback

            return recommend_with_fallback(self, users, k, include_seen, fallback)

        if k < 1:
            raise UserError(f"--k {k}: give 1 or more items to recommend")
        codes = pd.Index(self.user_ids).get_indexer(pd.Index(users, dtype=str))
        unknown = [u for u, c in zip(users, codes, strict=True) if c < 0]
        if unknown:
            shown = ", ".join(repr(u) for u in unknown[:5])
            raise UserError(
                f"{len(unknown)} of {len(users)} users are unknown to this model ({shown}"
                f"{', ...' if len(unknown) > 5 else ''}); it knows the {len(self.user_ids)} users "
                "of its training data (new users need a retrain, or --fallback popular gives them the "
                "most popular items)"
            )
        seen = UserItems(*self.seen, len(self.user_ids))
        frames = []
        chunk = chunk_rows(self.config.evaluation.user_chunk, len(self.item_ids))
        with torch.no_grad():
            for start in range(0, len(codes), chunk):
                part = codes[start : start + chunk]
                frames.append(self._top_items(part, seen, k, include_seen))
        table = pd.concat(frames, ignore_index=True)
        table["seen_excluded"] = not include_seen
        return table

    def add_items(self, data: Any) -> int:
        """Items of an items table (a file or DataFrame with the run's item id and feature
        columns) that the model does not know join its catalogue for `recommend`, scored from
        their features (two_tower with items.features): side.add_items. Returns how many."""
        from modelyard.recommend.side import add_items

        return add_items(self, data)

    def _top_items(self, part: np.ndarray, seen, k: int, include_seen: bool):
        import pandas as pd

        scores = self.module.score_all(torch.as_tensor(part)).float()
        if not include_seen:
            rows, items = seen.of(part)
            scores[torch.as_tensor(rows), torch.as_tensor(items)] = -torch.inf
        top = scores.topk(min(k, scores.shape[1]), dim=1)
        keep = torch.isfinite(top.values)  # a user who has seen nearly everything gets fewer
        rows = torch.arange(len(part))[:, None].expand_as(top.indices)[keep].numpy()
        ranks = torch.arange(1, top.indices.shape[1] + 1).expand_as(top.indices)[keep].numpy()
        return pd.DataFrame(
            {
                "user": self.user_ids[part[rows]],
                "rank": ranks,
                "item": self.item_ids[top.indices[keep].numpy()],
                "score": top.values[keep].numpy(),
            }
        )

    def embedding_table(self) -> tuple[np.ndarray, list[str], str]:
        """(items, D) item vectors and the item ids, for `export --format projector`."""
        from modelyard.recommend.apply import item_vectors

        vectors = item_vectors(self, "export item embeddings")
        return vectors.cpu().numpy(), [str(item) for item in self.item_ids], "items"

    def similar_items(self, items: list[str], k: int = 10):
        """The `k` items most like each item id in `items` (cosine similarity of the item
        vectors): a DataFrame of item, rank, similar_item, similarity (recommend/apply.py)."""
        from modelyard.recommend.apply import similar_items

        return similar_items(self, items, k)

    def create_app(self, **options: Any):
        """`modelyard serve`'s app for this run (serve/recommend_app.py)."""
        from modelyard.serve.recommend_app import create_recommend_app

        return create_recommend_app(self, **options)

    def require(self, capability: str, tool: str) -> None:
        if capability == "serve":
            return
        raise UserError(
            f"{tool} works on supervised runs; this is a recommendation run (use `modelyard recommend`)"
        )

    def evaluate(self, data: Any) -> dict[str, Any]:
        """Metrics on interactions (a table file or DataFrame with the training columns):
        recommend/evaluate.evaluate_interactions."""
        from modelyard.recommend.evaluate import evaluate_interactions

        return evaluate_interactions(self, data)

    def generate(self, prompt: str, **options: Any) -> str:
        raise UserError(
            "generate needs a causal language model (task: language_model); this is a recommendation run"
        )

    def predict(self, data: Any, include_inputs: bool = False, unknown: str = "error"):
        """The predicted rating (objective ratings) or score (ranking) of each (user, item)
        row of `data`, a table file or DataFrame with the training's user and item columns
        (recommend/apply.predict_pairs; `unknown`: "error" or "skip")."""
        from modelyard.recommend.apply import predict_pairs

        return predict_pairs(self, data, include_inputs, unknown)

    # ------------------------------------------------------------ saving

    def _save_seen(self, folder: Path) -> None:
        """seen.safetensors: the known (user, item) pairs, as int32 codes."""
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        users, items = self.seen
        save_file(
            {
                "users": torch.from_numpy(users.astype(np.int32)),
                "items": torch.from_numpy(items.astype(np.int32)),
            },
            str(folder / SEEN_FILE),
        )

    def save(self, directory: str | Path) -> None:
        """The whole model folder (see the module's docstring)."""
        import modelyard
        from modelyard.recommend.side import save_sides, side_state

        folder = Path(directory)
        self._save_seen(folder)
        save_sides(folder, self.sides)
        run.save_model(
            folder,
            self.config.model_dump(mode="json"),
            {
                "user_ids": self.user_ids.tolist(),
                "item_ids": self.item_ids.tolist(),
                "sides": side_state(self.sides),
            },
            self.module.state_dict(),
            {
                "modelyard_version": modelyard.__version__,
                "torch_version": torch.__version__,
                "task": "recommendation",
                "users": len(self.user_ids),
                "items": len(self.item_ids),
            },
        )

    @classmethod
    def load(cls, folder: Path) -> Recommender:
        from safetensors.torch import load_file

        from modelyard.recommend.build import NetworkData, build_network
        from modelyard.recommend.side import load_sides

        model, weights = cls._open_saved(folder)
        ids = run.read_json(folder / "preprocessing.json")
        model.user_ids = np.asarray(ids["user_ids"], dtype=str)
        model.item_ids = np.asarray(ids["item_ids"], dtype=str)
        seen = load_file(str(folder / SEEN_FILE))
        model.seen = (
            seen["users"].numpy().astype(np.int64),
            seen["items"].numpy().astype(np.int64),
        )
        codes = {"items": model.item_ids, "users": model.user_ids}
        model.sides = load_sides(model.config, folder, ids.get("sides", {}), codes)
        module = build_network(
            model.config.model,
            NetworkData(len(model.user_ids), len(model.item_ids), sides=model.sides),
        )
        return model._finish_loading(module, weights)


def _tensors(part: Interactions) -> dict[str, torch.Tensor]:
    """{"user", "item"[, "rating"]}: (N,) tensors of the interactions."""
    tensors = {"user": torch.from_numpy(part.users), "item": torch.from_numpy(part.items)}
    if part.ratings is not None:
        tensors["rating"] = torch.from_numpy(part.ratings)
    return tensors
