"""`modelyard evaluate RUN --data FILE` for a recommendation run: its metrics on interactions
it was not trained on (the same columns as the training table)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from modelyard.errors import UserError


def evaluate_interactions(model, data: Any) -> dict[str, Any]:
    """Rating errors (objective ratings) or full-ranking metrics (ranking) of `model` (a
    Recommender) on `data`: a table file or a DataFrame. Interactions of users or items the
    model does not know are left out and counted (`rows_left_out`). Ranking excludes, per
    user, the items the model knows the user interacted with, except those being evaluated."""
    from modelyard.recommend.data import interactions_from_frame

    frame, source = _read(data, model.config.data)
    found = interactions_from_frame(frame, model.config.data, source)
    users = pd.Index(model.user_ids).get_indexer(found.user_ids)[found.users]
    items = pd.Index(model.item_ids).get_indexer(found.item_ids)[found.items]
    known = (users >= 0) & (items >= 0)
    if not known.any():
        raise UserError(
            f"{source}: none of its {len(found)} interactions is of a user and an item this model knows; evaluate on data of the same users and items"
        )
    users, items = users[known], items[known]
    if model.ranking:
        found_metrics = _ranking(model, users, items)
    else:
        found_metrics = _ratings(model, users, items, found.ratings[known])
    found_metrics["rows"] = int(known.sum())
    if not known.all():
        found_metrics["rows_left_out"] = int((~known).sum())
    return found_metrics


def _read(data: Any, settings) -> tuple[pd.DataFrame, str]:
    if isinstance(data, pd.DataFrame):
        return data, "the DataFrame given to evaluate"
    from modelyard.config.schema import Data
    from modelyard.data.read import read_table

    path = Path(data)
    return read_table(path, Data(separator=settings.separator, encoding=settings.encoding)), str(
        path
    )


def _ratings(model, users: np.ndarray, items: np.ndarray, ratings: np.ndarray) -> dict:
    from modelyard.recommend.metrics import rating_metrics

    with torch.no_grad():
        predicted = model.module(torch.from_numpy(users), torch.from_numpy(items)).float()
    return rating_metrics(predicted.numpy(), ratings)


def _ranking(model, users: np.ndarray, items: np.ndarray) -> dict:
    from modelyard.recommend.data import Interactions
    from modelyard.recommend.metrics import PROTOCOL, UserItems, ranking_metrics
    from modelyard.recommend.sampled import sampled_if_asked

    n_users, n_items = len(model.user_ids), len(model.item_ids)
    seen_users, seen_items = model.seen
    held = np.isin(seen_users * n_items + seen_items, users * n_items + items)
    with torch.no_grad():
        found = ranking_metrics(
            model.module.score_all,
            n_items,
            UserItems(users, items, n_users),
            UserItems(seen_users[~held], seen_items[~held], n_users),
            np.unique(users),
            model.config.evaluation.k,
            model.config.evaluation.user_chunk,
            torch.device("cpu"),
        )
    known = (np.concatenate([seen_users, users]), np.concatenate([seen_items, items]))
    held = Interactions(users, items, None, None, model.user_ids, model.item_ids)
    found.update(sampled_if_asked(model.config.evaluation, model.module, held, known))
    return {**found, "users": len(np.unique(users)), "protocol": PROTOCOL}
