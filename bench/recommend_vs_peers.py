"""modelyard's recommendation models against the peers' libraries, on the same splits, the same
metric code and the same tuning budget (each model: the same number of settings tried,
chosen on the same validation split, measured once on test).

Explicit ratings (`--part ratings`): one seeded random split of the ratings, 70% train, 10%
validation (picks the settings, and our epoch), 20% test; RMSE and MAE on test, wall time of
the chosen setting's fit. Baselines: scikit-surprise's SVD++ and BaselineOnly.

Implicit feedback (`--part ranking`): every rating is a positive; per-user leave-last-out by
timestamp (the last interaction is test, the one before validation); FULL ranking over every
item with the user's known items excluded (train; for test also validation), computed by
modelyard's own metric code for every model from its user and item vectors. Baselines:
`implicit`'s ALS and BPR, and popularity (training counts).

    python examples/movielens/prepare.py /tmp/dslabs   # the data (see that script)
    python bench/recommend_vs_peers.py --part ratings
    python bench/recommend_vs_peers.py --part ranking
    python bench/recommend_vs_peers.py --part ranking --budget 2   # quicker, fewer settings
    python bench/recommend_vs_peers.py --part ranking --models sasrec,als   # some rows only

The peers are benchmark baselines only (pip install scikit-surprise implicit), never a
dependency of modelyard.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

DATA = Path(__file__).resolve().parents[1] / "examples/movielens/data/ratings.csv"
COLUMNS = {"user": "userId", "item": "movieId", "rating": "rating", "timestamp": "timestamp"}
K = 10

# The settings each model may try, best first by our prior; `--budget N` tries the first N.
OURS_RATINGS = [
    {"dim": 64, "l2": 0.1},
    {"dim": 32, "l2": 0.1},
    {"dim": 64, "l2": 0.05},
    {"dim": 128, "l2": 0.2},
]
SVDPP = [
    {},  # surprise's defaults: 20 factors, 20 epochs, lr 0.007, reg 0.02
    {"n_factors": 50, "reg_all": 0.05},
    {"n_factors": 20, "reg_all": 0.05, "lr_all": 0.005},
    {"n_factors": 50, "reg_all": 0.1, "n_epochs": 30},
]
BASELINE_ONLY = [
    {},  # ALS, reg_i 10, reg_u 15, 10 epochs
    {"bsl_options": {"method": "sgd"}},
    {"bsl_options": {"method": "als", "reg_i": 5, "reg_u": 10, "n_epochs": 20}},
    {"bsl_options": {"method": "als", "reg_i": 15, "reg_u": 20, "n_epochs": 20}},
]
OURS_RANKING = [
    {"loss": "softmax", "dim": 128, "l2": 0.0, "negatives": 256},
    {"loss": "softmax", "dim": 64, "l2": 0.0, "negatives": 256},
    {"loss": "bpr", "dim": 128, "l2": 0.0002, "negatives": 4},
    {"loss": "softmax", "dim": 128, "l2": 0.001, "negatives": 1024},
]
SASREC = [
    {"type": "sasrec", "loss": "full_softmax", "dim": 64, "dropout": 0.2},  # sasrec.yaml
    {"type": "sasrec", "loss": "bpr", "dim": 64, "dropout": 0.2},  # the paper's loss
    {"type": "sasrec", "loss": "full_softmax", "dim": 64, "dropout": 0.5},
    {"type": "sasrec", "loss": "full_softmax", "dim": 64, "dropout": 0.2, "max_length": 200},
]
ALS = [
    {"factors": 64, "regularization": 0.05, "alpha": 1.0},
    {"factors": 128, "regularization": 0.05, "alpha": 1.0},
    {"factors": 64, "regularization": 0.5, "alpha": 10.0},
    {"factors": 32, "regularization": 0.01, "alpha": 5.0},
]
BPR = [
    {"factors": 64, "learning_rate": 0.01, "regularization": 0.01, "iterations": 100},
    {"factors": 128, "learning_rate": 0.05, "regularization": 0.01, "iterations": 100},
    {"factors": 64, "learning_rate": 0.05, "regularization": 0.001, "iterations": 200},
    {"factors": 32, "learning_rate": 0.01, "regularization": 0.01, "iterations": 200},
]


def read(path: Path):
    """The ratings table and its Interactions (codes in the order modelyard gives them)."""
    from modelyard.config.schema.recommendation import Interactions as Settings
    from modelyard.recommend.data import interactions_from_frame

    frame = pd.read_csv(path)
    settings = Settings(**COLUMNS)
    found = interactions_from_frame(frame, settings, str(path))
    if len(found) != len(frame):
        raise SystemExit(f"{path}: repeated (user, item) pairs; the splits would not line up")
    return frame, found


def ours(frame: pd.DataFrame, config: dict) -> tuple[dict, float]:
    """Fit modelyard on `frame` (its own split from `config`): (metrics, seconds)."""
    from modelyard import Model

    start = time.perf_counter()
    model = Model.from_config(config)
    model.fit(frame)
    return model.metrics, time.perf_counter() - start


def tune(name: str, settings: list[dict], fit, better) -> tuple[dict, dict, float]:
    """Try each setting with `fit(setting) -> (validation, test, seconds)`; the best on
    validation by `better(a, b)` is kept: (setting, test metrics, its fit's seconds)."""
    best = None
    for setting in settings:
        validation, test, seconds = fit(setting)
        print(f"  {name} {setting}: validation {validation}, {seconds:.1f} s", flush=True)
        if best is None or better(validation, best[1]):
            best = (setting, validation, test, seconds)
    return best[0], best[2], best[3]


# ---------------------------------------------------------------- explicit ratings


def ratings(frame: pd.DataFrame, found, budget: int, epochs: int) -> list[tuple]:
    from modelyard.recommend.split import random_split

    rows = random_split(len(found), 0.1, 0.2, seed=0)
    split = {"by": "random", "validation": 0.1, "test": 0.2, "seed": 0}

    def fit_ours(setting):
        config = {
            "task": "recommendation",
            "data": {**COLUMNS, "rating_scale": [0.5, 5]},
            "split": split,
            "model": {"objective": "ratings", **setting},
            "trainer": {"epochs": epochs, "early_stopping": {"metric": "rmse", "patience": 3}},
        }
        metrics, seconds = ours(frame, config)
        return metrics["validation"]["rmse"], metrics["test"], seconds

    lower = lambda a, b: a < b  # noqa: E731
    table = []
    setting, test, seconds = tune("modelyard mf", OURS_RATINGS[:budget], fit_ours, lower)
    table.append(("modelyard mf + biases", setting, test["rmse"], test["mae"], seconds))
    for name, algorithm, grid in (
        ("surprise SVD++", "SVDpp", SVDPP),
        ("surprise BaselineOnly", "BaselineOnly", BASELINE_ONLY),
    ):
        fit = _surprise_fit(frame, rows, algorithm)
        setting, test, seconds = tune(name, grid[:budget], fit, lower)
        table.append((name, setting, test["rmse"], test["mae"], seconds))
    return table


def _surprise_fit(frame: pd.DataFrame, rows: dict, algorithm: str):
    import surprise

    from modelyard.recommend.metrics import rating_metrics

    columns = [COLUMNS["user"], COLUMNS["item"], COLUMNS["rating"]]
    reader = surprise.Reader(rating_scale=(0.5, 5))
    train = surprise.Dataset.load_from_df(
        frame.iloc[rows["train"]][columns], reader
    ).build_full_trainset()

    def predict(model, part: str) -> dict:
        held = frame.iloc[rows[part]][columns].to_numpy()
        predicted = np.array([model.predict(u, i).est for u, i, _ in held])
        return rating_metrics(predicted, held[:, 2].astype(np.float64))

    def fit(setting):
        start = time.perf_counter()
        model = getattr(surprise, algorithm)(**setting, verbose=False)
        model.fit(train)
        seconds = time.perf_counter() - start
        return predict(model, "validation")["rmse"], predict(model, "test"), seconds

    return fit


# ---------------------------------------------------------------- implicit feedback


def ranking_config(setting: dict, epochs: int) -> dict:
    """Our config for one ranking setting (model keys, and its own `trainer` keys if any)."""
    setting = dict(setting)
    trainer = setting.pop("trainer", {})
    sasrec = setting.get("type") == "sasrec"
    return {
        "task": "recommendation",
        "data": {k: v for k, v in COLUMNS.items() if k != "rating"},
        "split": {"by": "leave_last_out"},
        "model": {"objective": "ranking", **setting},
        "evaluation": {"k": [K]},
        "trainer": {
            "epochs": epochs * 3 if sasrec else epochs,
            "batch_size": 128 if sasrec else 1024 if setting["loss"] == "bpr" else 4096,
            "early_stopping": {"metric": f"ndcg_at_{K}", "patience": 10 if sasrec else 5},
            **({"optimizer": {"type": "adam", "lr": 0.002}} if sasrec else {}),
            **trainer,
        },
    }


RANKING_MODELS = ("mf", "sasrec", "als", "bpr", "popularity")


def ranking(frame: pd.DataFrame, found, budget: int, epochs: int, models=RANKING_MODELS) -> list:
    """The rows (name, ours, setting, test metrics, seconds) of `models` (RANKING_MODELS)."""
    from modelyard.recommend.split import leave_last_out

    rows = leave_last_out(found.users, found.times)

    def fit_ours(setting):
        metrics, seconds = ours(frame, ranking_config(setting, epochs))
        return metrics["validation"], metrics["test"], seconds

    higher = lambda a, b: a[f"ndcg_at_{K}"] > b[f"ndcg_at_{K}"]  # noqa: E731
    grids = {
        "mf": ("modelyard mf", True, OURS_RANKING, lambda: fit_ours),
        "sasrec": ("modelyard sasrec", True, SASREC, lambda: fit_ours),
        "als": ("implicit ALS", False, ALS, lambda: _implicit_fit(found, rows, "als")),
        "bpr": ("implicit BPR", False, BPR, lambda: _implicit_fit(found, rows, "bpr")),
    }
    table = []
    for model in models:
        if model == "popularity":
            table.append(_popularity(found, rows))
            continue
        name, own, grid, make_fit = grids[model]
        setting, test, seconds = tune(name, grid[:budget], make_fit(), higher)
        table.append((name, own, setting, test, seconds))
    return table


def _popularity(found, rows: dict) -> tuple:
    """The popularity row: items by their training counts."""
    popularity = np.bincount(found.items[rows["train"]], minlength=len(found.item_ids))
    scores = torch.as_tensor(popularity, dtype=torch.float32)[None]
    start = time.perf_counter()
    test = _full_ranking(found, rows, "test", lambda users: scores.repeat(len(users), 1))
    return ("popularity", False, {}, test, time.perf_counter() - start)


def _full_ranking(found, rows: dict, part: str, score_all) -> dict:
    """modelyard's full-ranking metrics for `part`, known items excluded as in training runs."""
    from modelyard.recommend.metrics import UserItems, ranking_metrics

    n_users = len(found.user_ids)
    known = np.concatenate(
        [rows[s] for s in (["train"] if part == "validation" else ["train", "validation"])]
    )
    held = rows[part]
    return ranking_metrics(
        score_all,
        len(found.item_ids),
        UserItems(found.users[held], found.items[held], n_users),
        UserItems(found.users[known], found.items[known], n_users),
        np.unique(found.users[held]),
        [K],
        1024,
        torch.device("cpu"),
    )


def _implicit_fit(found, rows: dict, kind: str):
    import scipy.sparse as sp
    from implicit.als import AlternatingLeastSquares
    from implicit.bpr import BayesianPersonalizedRanking

    train = rows["train"]
    shape = (len(found.user_ids), len(found.item_ids))
    matrix = sp.csr_matrix(
        (np.ones(len(train), dtype=np.float32), (found.users[train], found.items[train])), shape
    )

    def fit(setting):
        setting = dict(setting)
        alpha = setting.pop("alpha", 1.0)
        start = time.perf_counter()
        if kind == "als":
            model = AlternatingLeastSquares(**setting, iterations=15, random_state=0)
            model.fit((matrix * alpha).tocsr(), show_progress=False)
        else:
            model = BayesianPersonalizedRanking(**setting, random_state=0)
            model.fit(matrix, show_progress=False)
        seconds = time.perf_counter() - start
        users = torch.as_tensor(np.asarray(model.user_factors))
        items = torch.as_tensor(np.asarray(model.item_factors))
        score_all = lambda codes: users[codes.cpu()] @ items.T  # noqa: E731
        return (
            _full_ranking(found, rows, "validation", score_all),
            _full_ranking(found, rows, "test", score_all),
            seconds,
        )

    return fit


# ---------------------------------------------------------------- printing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["ratings", "ranking"], required=True)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--budget", type=int, default=4, help="settings tried per model (max 4)")
    parser.add_argument("--epochs", type=int, default=60, help="our epochs cap (early stopping)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--models",
        default=",".join(RANKING_MODELS),
        help=f"ranking part: the rows to run, comma-separated (default: {','.join(RANKING_MODELS)})",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import os

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit's advice; its own threads
    frame, found = read(args.data)
    print(f"{len(found)} interactions, {len(found.user_ids)} users, {len(found.item_ids)} items")
    if args.part == "ratings":
        table = ratings(frame, found, args.budget, args.epochs)
        print("\nexplicit ratings, random 70/10/20 split (seed 0), test set:")
        print(f"{'model':24} {'rmse':>7} {'mae':>7} {'fit s':>7}  chosen setting")
        for name, setting, rmse, mae, seconds in table:
            print(f"{name:24} {rmse:7.4f} {mae:7.4f} {seconds:7.1f}  {setting}")
        ours_rmse = table[0][2]
        for name, _, rmse, _, _ in table[1:]:
            print(f"RMSE ratio modelyard / {name}: {ours_rmse / rmse:.3f}")
        return
    table = ranking(frame, found, args.budget, args.epochs, args.models.split(","))
    print("\nimplicit feedback, per-user leave-last-out, full ranking, seen items excluded, test:")
    print(
        f"{'model':16} {'ndcg@10':>8} {'recall@10':>9} {'hr@10':>7} {'mrr':>7} {'coverage':>8} {'fit s':>7}"
    )
    for name, _, setting, test, seconds in table:
        print(
            f"{name:16} {test[f'ndcg_at_{K}']:8.4f} {test[f'recall_at_{K}']:9.4f} "
            f"{test[f'hr_at_{K}']:7.4f} {test['mrr']:7.4f} {test['coverage']:8.4f} {seconds:7.1f}  {setting}"
        )
    for ours_name, own, _, ours_test, _ in table:
        for name, _, _, test, _ in [row for row in table if not row[1]] if own else []:
            print(
                f"{ours_name} / {name}: ndcg@10 {ours_test[f'ndcg_at_{K}'] / test[f'ndcg_at_{K}']:.3f}x, "
                f"recall@10 {ours_test[f'recall_at_{K}'] / test[f'recall_at_{K}']:.3f}x"
            )


if __name__ == "__main__":
    main()
