"""Cross-field checks of a `task: recommendation` config, and `modelyard validate`'s data check."""

from __future__ import annotations

from pathlib import Path

from modelyard.config import checks as common


def ratings_need_a_column(config) -> list[str]:
    data, model = config.data, config.model
    problems = []
    if model.objective == "ratings" and data.rating is None:
        problems.append(
            "model.objective: ratings needs data.rating (the rating column); set it, or use objective: ranking for implicit feedback"
        )
    if model.objective == "ratings" and model.loss != type(model).model_fields["loss"].default:
        problems.append(
            f"model.loss: {model.loss} applies to objective ranking; remove it, or set model.objective: ranking"
        )
    if not model.popularity_correction and (  # the default (True) is quiet: saved configs hold it
        model.objective != "ranking" or model.loss != "softmax"
    ):
        problems.append(
            "model.popularity_correction: applies to objective ranking with loss softmax; remove it, or set model.loss: softmax"
        )
    if (
        model.loss == "full_softmax"
        and model.negatives != type(model).model_fields["negatives"].default
    ):
        problems.append(
            f"model.negatives: {model.negatives} does not apply to loss full_softmax (it scores every item); remove it, or use loss: softmax for sampled negatives"
        )
    if data.duplicates == "mean" and data.rating is None:
        problems.append(
            "data.duplicates: mean averages ratings, but data.rating is not set; use last, first or error"
        )
    if data.rating_scale is not None:
        low, high = data.rating_scale
        if data.rating is None:
            problems.append(
                "data.rating_scale: applies to data.rating, which is not set; set both or neither"
            )
        elif low >= high:
            problems.append(
                f"data.rating_scale: [{low:g}, {high:g}]: the minimum must be below the maximum"
            )
    return problems


def split_needs_time(config) -> list[str]:
    if config.split.by == "leave_last_out" and config.data.timestamp is None:
        return [
            "split.by: leave_last_out orders each user's interactions by time; set data.timestamp to the time column, or use split.by: random"
        ]
    if config.split.by != "leave_last_out" and config.split.validation + config.split.test >= 1:
        return ["split.validation + split.test must leave interactions for training (below 1)"]
    return []


def early_stopping_metric_fits(config) -> list[str]:
    stopping = config.trainer.early_stopping
    if stopping is None:
        return []
    if config.model.objective == "ratings":
        known = ["loss", "mse", "rmse", "mae"]
    else:
        kinds = ("recall", "ndcg", "hr")
        if config.evaluation.sampled is not None:
            kinds += ("sampled_hr", "sampled_ndcg")
        known = ["loss", "mrr", "coverage"] + [
            f"{m}_at_{k}" for k in config.evaluation.k for m in kinds
        ]
    if stopping.metric not in known:
        return [
            f"trainer.early_stopping.metric: '{stopping.metric}' is not measured for objective {config.model.objective}; use one of {', '.join(known)}"
        ]
    return []


def sampled_needs_ranking(config) -> list[str]:
    if config.evaluation.sampled is not None and config.model.objective != "ranking":
        return [
            "evaluation.sampled: sampled ranking metrics apply to objective ranking; remove it, or set model.objective: ranking"
        ]
    return []


def sasrec_settings_fit(config) -> list[str]:
    model = config.model
    if model.type != "sasrec":
        return []
    problems = []
    if model.objective == "ratings":
        problems.append(
            "model.objective: ratings does not apply to type sasrec (it ranks the next item); use objective: ranking, or type mf / neumf to predict ratings"
        )
    if config.data.timestamp is None:
        problems.append(
            "model.type: sasrec reads each user's interactions in time order; set data.timestamp to the time column, or use type mf / neumf"
        )
    if model.dim % model.heads:
        problems.append(
            f"model.heads: {model.heads} must divide model.dim {model.dim}; change one of them"
        )
    return problems


def side_features_fit(config) -> list[str]:
    """Side tables are read by two_tower; each tower needs ids or features; cold items need
    item features; features of table types only, each name once."""
    from modelyard.recommend.side import side_problems

    return side_problems(config)


CHECKS = [
    ratings_need_a_column,
    sampled_needs_ranking,
    sasrec_settings_fit,
    side_features_fit,
    split_needs_time,
    early_stopping_metric_fits,
    common.optimizer_settings_fit,
    common.tracking_settings_fit,
    common.strategy_settings_fit,
]


def check_interactions(config, base: Path) -> list[str]:
    """Read, check and split the interactions as training would; one line each."""
    import numpy as np

    from modelyard.recommend.data import read_interactions
    from modelyard.recommend.sampled import check_negatives
    from modelyard.recommend.side import read_sides
    from modelyard.recommend.split import split_rows

    found = read_interactions(config.data, base)
    rows = split_rows(found, config.split)
    check_negatives(config.evaluation, found, np.concatenate([rows["validation"], rows["test"]]))
    sizes = ", ".join(f"{name}: {len(r)}" for name, r in rows.items())
    sides = read_sides(config, base, None, found)
    lines = [f"{kind}: {len(table)} rows of features" for kind, table in sides.items()]
    return [
        f"interactions: {len(found)} of {len(found.user_ids)} users and {len(found.item_ids)} items",
        f"split ({config.split.by}): {sizes}",
        *lines,
        "data is valid",
    ]
