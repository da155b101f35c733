"""Recommendation model types beyond mf, end to end through the CLI: neumf and sasrec train,
save, load and recommend; sasrec learns an order that matrix factorisation cannot; their
config mistakes stop with exit 2."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from modelyard import Model
from modelyard.recommend.synthetic import synthetic_interactions
from tests.integration.cli_helpers import modelyard, user_error
from tests.integration.test_recommend import _popularity_recall

pytestmark = pytest.mark.integration


def _pairs(users: int = 200, items: int = 60, per_user: int = 8, seed: int = 0) -> pd.DataFrame:
    """Each user's items in time order: x1, f(x1), x2, f(x2), ... with x random and f a fixed
    random permutation (all of a user's items distinct). Leave-last-out tests f(x) right after
    the validation item x: predictable from the order alone, since which items a user has
    (all MF sees) say nothing about which x came last."""
    rng = np.random.default_rng(seed)
    follows = rng.permutation(items)
    rows = []
    for user in range(users):
        used: set[int] = set()
        sequence: list[int] = []
        for first in rng.permutation(items):
            second = follows[first]
            if first == second or {first, second} & used:
                continue
            used |= {first, second}
            sequence += [first, second]
            if len(sequence) == 2 * per_user:
                break
        rows += [(f"u{user}", f"i{item}", t) for t, item in enumerate(sequence)]
    return pd.DataFrame(rows, columns=["user", "item", "timestamp"])


def _project(tmp_path, frame: pd.DataFrame, **sections) -> None:
    frame.to_csv(tmp_path / "events.csv", index=False)
    config = {
        "task": "recommendation",
        "data": {"file": "events.csv", "timestamp": "timestamp"},
        "split": {"by": "leave_last_out"},
        "model": {"objective": "ranking", "dim": 16},
        "trainer": {"epochs": 2, "batch_size": 64},
    }
    for key, value in sections.items():
        config[key] = {**config.get(key, {}), **value}
    (tmp_path / "rec.yaml").write_text(yaml.safe_dump(config))


def _test_metrics(run) -> dict:
    return json.loads((run / "metrics.json").read_text())["test"]


def test_sasrec_learns_the_next_item_where_mf_cannot(tmp_path):
    # validation items (each x) are unpredictable: keep the last epoch, not the best
    trainer = {"epochs": 20, "keep": "last", "early_stopping": None}
    for model in ({"type": "sasrec", "max_length": 20, "dropout": 0.1}, {"type": "mf"}):
        _project(tmp_path, _pairs(), model=model, trainer=trainer)
        modelyard("train", "rec.yaml", "--output", model["type"], cwd=tmp_path)
    sasrec, mf = _test_metrics(tmp_path / "sasrec"), _test_metrics(tmp_path / "mf")
    assert sasrec["users"] == 200 and sasrec["hr_at_10"] > 0.9, sasrec
    assert mf["hr_at_10"] < 0.4, mf  # about 0.24


def test_neumf_beats_popularity_in_full_ranking_recall(tmp_path):
    frame = synthetic_interactions().drop(columns="rating")
    _project(
        tmp_path,
        frame,
        model={"type": "neumf", "layers": [32, 16], "dropout": 0.0, "negatives": 4},
        trainer={
            "epochs": 25,
            "batch_size": 256,
            "optimizer": {"type": "adam", "lr": 0.02},
            "early_stopping": {"metric": "ndcg_at_10", "patience": 5},
        },
    )
    modelyard("train", "rec.yaml", cwd=tmp_path)
    test = _test_metrics(tmp_path / "runs" / "rec")
    popular = _popularity_recall(frame)  # 0.185 (MF: 0.34, NeuMF: 0.365)
    assert test["recall_at_10"] > popular + 0.1, (test, popular)


@pytest.mark.parametrize(
    "model",
    [
        {"type": "neumf", "layers": [16, 8]},
        {"type": "sasrec", "max_length": 10, "heads": 2, "loss": "softmax", "negatives": 8},
    ],
)
def test_train_recommend_and_evaluate_a_saved_run(tmp_path, model):
    frame = synthetic_interactions(users=40, items=30, per_user=12).drop(columns="rating")
    _project(tmp_path, frame, model=model)
    modelyard("train", "rec.yaml", cwd=tmp_path)
    run = tmp_path / "runs" / "rec"
    result = modelyard("recommend", "runs/rec", "--user", "u1", "--k", "5", cwd=tmp_path)
    lines = result.stdout.splitlines()
    assert lines[0] == "user,rank,item,score,seen_excluded" and len(lines) == 6
    seen = set(frame.loc[frame["user"] == "u1", "item"])
    assert not {line.split(",")[2] for line in lines[1:]} & seen
    loaded = Model.load(run)
    top = loaded.recommend(["u1"], k=5)
    assert top["item"].tolist() == [line.split(",")[2] for line in lines[1:]]
    # the saved model scores as at test: evaluate on the test interactions gives its metrics
    last = frame.sort_values("timestamp").groupby("user").tail(1)
    last.to_csv(tmp_path / "test.csv", index=False)
    found = json.loads(modelyard("evaluate", "runs/rec", "--data", "test.csv", cwd=tmp_path).stdout)
    expected = _test_metrics(run)
    for name in ("ndcg_at_10", "recall_at_10", "mrr"):
        assert found[name] == pytest.approx(expected[name], rel=1e-5), name


def test_sasrec_saves_histories_of_train_and_validation_items(tmp_path):
    frame = synthetic_interactions(users=20, items=30, per_user=8).drop(columns="rating")
    _project(tmp_path, frame, model={"type": "sasrec", "max_length": 10})
    modelyard("train", "rec.yaml", cwd=tmp_path)
    loaded = Model.load(tmp_path / "runs" / "rec")
    user = "u3"
    items = frame[frame["user"] == user].sort_values("timestamp")["item"].tolist()
    code = loaded.user_ids.tolist().index(user)
    history = loaded.module.history[code]
    codes = [loaded.item_ids.tolist().index(i) for i in items[:-1]]  # all but the test item
    pad = len(loaded.item_ids)
    assert history.tolist() == [pad] * 3 + codes
    assert history.dtype == torch.int32


@pytest.mark.parametrize(
    ("data", "model", "messages"),
    [
        (
            {"timestamp": None},
            {"type": "sasrec"},
            ["model.type: sasrec reads each user's interactions in time order; set data.timestamp"],
        ),
        (
            {"rating": "rating"},
            {"type": "sasrec", "objective": "ratings", "dim": 10, "heads": 3},
            [
                "model.objective: ratings does not apply to type sasrec",
                "model.heads: 3 must divide model.dim 10",
            ],
        ),
        ({}, {"type": "sasrec", "max_len": 20}, ["model.max_len: unknown key", "max_length"]),
        (
            {},
            {"type": "sasrec", "loss": "full_softmax", "negatives": 100},
            ["model.negatives: 100 does not apply to loss full_softmax"],
        ),
        ({}, {"type": "sasrec", "loss": "full"}, ["model.loss", "full_softmax"]),
        ({}, {"type": "neumf", "layers": []}, ["model.layers"]),
    ],
)
def test_model_type_mistakes_stop_validate_and_train_with_exit_2(tmp_path, data, model, messages):
    _project(
        tmp_path, synthetic_interactions(users=10, items=10, per_user=4), data=data, model=model
    )
    for verb in ("validate", "train"):
        error = user_error(modelyard(verb, "rec.yaml", cwd=tmp_path, check=None))
        for message in messages:
            assert message in error, error
    assert not (tmp_path / "runs").exists()


def test_a_resumed_sasrec_run_matches_an_uninterrupted_one(tmp_path):
    frame = synthetic_interactions(users=30, items=20, per_user=10).drop(columns="rating")
    _project(
        tmp_path,
        frame,
        model={"type": "sasrec", "max_length": 6, "dim": 8, "loss": "bpr", "negatives": 2},
        trainer={"epochs": 2, "early_stopping": None, "keep_checkpoints": "last"},
    )
    modelyard("train", "rec.yaml", "--output", "resumed", cwd=tmp_path)
    three = ["--set", "trainer.epochs=3"]
    modelyard("train", "rec.yaml", "--output", "resumed", "--resume", *three, cwd=tmp_path)
    modelyard("train", "rec.yaml", "--output", "straight", *three, cwd=tmp_path)
    resumed, straight = (Model.load(tmp_path / name).module for name in ("resumed", "straight"))
    for (name, a), b in zip(
        resumed.state_dict().items(), straight.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6, msg=name)
    assert _test_metrics(tmp_path / "resumed") == _test_metrics(tmp_path / "straight")
