"""Cross-field checks of a `task: link_prediction` config, and `modelyard validate`'s data check."""

from __future__ import annotations

from pathlib import Path

from modelyard.config import checks as common

TEXT = (".csv", ".tsv", ".txt")
METRICS = ("loss", "mrr", "hits_at_1", "hits_at_3", "hits_at_10", "mean_rank")


def files_fit(config) -> list[str]:
    data = config.data
    if data.file is not None and any((data.train, data.validation, data.test)):
        return [
            "data.file: one file that split cuts, or data.train / validation / test files; not both"
        ]
    if data.file is None and data.train is None:
        return ["data.train: not set; name the training triples file (or one data.file to split)"]
    if data.file is not None and config.split.validation + config.split.test >= 1:
        return ["split.validation + split.test must leave triples for training (below 1)"]
    return []


def columns_fit(config) -> list[str]:
    data = config.data
    if len(set(data.columns)) < 3:
        return [
            f"data.columns: {list(data.columns)} names a column twice; give head, relation, tail"
        ]
    names = [c for c in data.columns if isinstance(c, str)]
    files = [f for f in (data.file, data.train, data.validation, data.test) if f]
    text = [f for f in files if Path(f).suffix.lower() in TEXT]
    if names and text and not data.header:
        return [
            f"data.columns: names ({', '.join(names)}) need a header line in '{text[0]}'; set data.header: true, or give positions such as [0, 1, 2]"
        ]
    return []


def training_fits(config) -> list[str]:
    settings, problems = config.training, []
    if settings.corruption == "bernoulli" and settings.inverse_relations:
        problems.append(
            "training.corruption: bernoulli picks which side of a triple to corrupt, but with inverse_relations: true only tails are; set inverse_relations: false, or corruption: uniform"
        )
    if settings.loss == "softmax" and settings.self_adversarial is not None:
        problems.append(
            "training.self_adversarial weighs sampled negatives; it needs loss: negative_sampling (softmax scores every entity)"
        )
    if settings.loss == "negative_sampling" and settings.label_smoothing:
        problems.append(
            "training.label_smoothing applies to loss: softmax; remove it or set loss: softmax"
        )
    if settings.loss == "negative_sampling" and settings.queries != "triples":
        problems.append(
            f"training.queries: {settings.queries} groups the answers of 1-N queries; it needs loss: softmax (negative sampling scores each triple)"
        )
    if settings.regularizer != "none" and settings.weight == 0:
        problems.append(
            f"training.regularizer: {settings.regularizer} with weight 0 does nothing; set training.weight (e.g. 0.01)"
        )
    return problems


def model_fits(config) -> list[str]:
    model, problems = config.model, []
    if model.type == "conve" and not config.training.inverse_relations:
        problems.append(
            "model.type: conve predicts tails only; set training.inverse_relations: true (heads are then asked as tails of r')"
        )
    if model.type == "conve" and (model.dim % model.height or model.dim // model.height < 3):
        problems.append(
            f"model.height: {model.height} must divide model.dim ({model.dim}) into rows of 3 or more; e.g. dim 200, height 10"
        )
    return problems


def early_stopping_metric_fits(config) -> list[str]:
    stopping = config.trainer.early_stopping
    if stopping is not None and stopping.metric not in METRICS:
        return [
            f"trainer.early_stopping.metric: '{stopping.metric}' is not a link prediction metric; use one of {', '.join(METRICS)}"
        ]
    return []


CHECKS = [
    files_fit,
    columns_fit,
    training_fits,
    model_fits,
    early_stopping_metric_fits,
    common.optimizer_settings_fit,
    common.tracking_settings_fit,
    common.strategy_settings_fit,
]


def check_triples(config, base: Path) -> list[str]:
    """Read, check and map the triples as training would; one line each."""
    from modelyard.linkpred.data import read_graph

    graph = read_graph(config.data, config.split, base)
    sizes = ", ".join(f"{name}: {len(t)}" for name, t in graph.triples.items())
    return [
        f"triples: {sizes}; {graph.entities} entities, {graph.relations} relations",
        "data is valid",
    ]
