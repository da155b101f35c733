"""Recommendation runs end to end through the CLI: explicit ratings (MF + biases), implicit
feedback (BPR, full ranking), recommend, bad input, resume."""

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

pytestmark = pytest.mark.integration


def _project(tmp_path, frame=None, **sections) -> None:
    """ratings.csv (synthetic unless `frame`) and rec.yaml with `sections` over the defaults."""
    (frame if frame is not None else synthetic_interactions()).to_csv(
        tmp_path / "ratings.csv", index=False
    )
    config = {
        "task": "recommendation",
        "data": {"file": "ratings.csv", "rating": "rating", "timestamp": "timestamp"},
        "model": {"dim": 8, "l2": 0.05},
        "trainer": {"epochs": 20, "batch_size": 256},
    }
    for key, value in sections.items():
        config[key] = {**config.get(key, {}), **value}
    (tmp_path / "rec.yaml").write_text(yaml.safe_dump(config))


def _metrics(tmp_path) -> dict:
    return json.loads((tmp_path / "runs" / "rec" / "metrics.json").read_text())


def test_mf_learns_low_rank_ratings_far_better_than_the_global_mean(tmp_path):
    _project(tmp_path, data={"rating_scale": [1, 5]})
    modelyard("train", "rec.yaml", cwd=tmp_path)
    run = tmp_path / "runs" / "rec"
    assert {"config.yaml", "history.csv", "metrics.json", "report.html"} <= {
        p.name for p in run.iterdir()
    }
    test = _metrics(tmp_path)["test"]
    frame = pd.read_csv(tmp_path / "ratings.csv")
    baseline = float(frame["rating"].std())  # about the global mean's RMSE
    assert test["rmse"] < 0.6 * baseline and test["mae"] < test["rmse"]
    assert test["rows"] == 800  # 10% of 8000


@pytest.mark.parametrize(("loss", "negatives"), [("bpr", 4), ("softmax", 16), ("full_softmax", 1)])
def test_ranking_losses_beat_popularity_in_full_ranking_recall(tmp_path, loss, negatives):
    _project(
        tmp_path,
        data={"rating": None},
        split={"by": "leave_last_out"},
        model={"objective": "ranking", "loss": loss, "l2": 0.0, "dim": 16, "negatives": negatives},
        trainer={
            "epochs": 25,
            "optimizer": {"type": "adam", "lr": 0.02},
            "early_stopping": {"metric": "ndcg_at_10", "patience": 5},
        },
    )
    modelyard("train", "rec.yaml", cwd=tmp_path)
    test = _metrics(tmp_path)["test"]
    assert test["protocol"] == "full ranking, seen items excluded"
    assert test["users"] == 200
    popular = _popularity_recall(pd.read_csv(tmp_path / "ratings.csv"))
    assert test["recall_at_10"] > popular + 0.1, (test, popular)


def _popularity_recall(frame: pd.DataFrame) -> float:  # 0.185 (BPR: 0.34)
    """Recall@10 of ranking items by their count in training, each user's seen ones excluded,
    on the same leave-last-out test split (computed here directly, by brute force)."""
    frame = frame.sort_values(["user", "timestamp"], kind="stable")
    test = frame.groupby("user").tail(1)
    known = frame.drop(test.index)
    counts = known["item"].value_counts()
    hits = 0
    for user, item in zip(test["user"], test["item"], strict=True):
        seen = set(known.loc[known["user"] == user, "item"])
        ranked = [i for i in counts.index if i not in seen][:10]
        hits += item in ranked
    return hits / len(test)


def test_recommend_excludes_seen_items_unless_asked(tmp_path):
    _project(tmp_path, model={"objective": "ranking"}, trainer={"epochs": 2})
    modelyard("train", "rec.yaml", cwd=tmp_path)
    (tmp_path / "users.txt").write_text("u1\nu2\n")
    result = modelyard(
        "recommend",
        "runs/rec",
        "--users",
        "users.txt",
        "--k",
        "5",
        "--out",
        "top.csv",
        cwd=tmp_path,
    )
    assert "items they interacted with excluded" in result.stderr
    top = pd.read_csv(tmp_path / "top.csv")
    assert top["user"].tolist() == ["u1"] * 5 + ["u2"] * 5
    assert top["rank"].tolist() == [1, 2, 3, 4, 5] * 2 and top["seen_excluded"].all()
    frame = pd.read_csv(tmp_path / "ratings.csv")
    seen = set(zip(frame["user"], frame["item"], strict=True))
    assert not any((u, i) in seen for u, i in zip(top["user"], top["item"], strict=True))
    assert (np.diff(top["score"].to_numpy()[:5]) <= 0).all()
    result = modelyard(
        "recommend", "runs/rec", "--user", "u1", "--k", "100", "--include-seen", cwd=tmp_path
    )
    assert "included (--include-seen)" in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "user,rank,item,score,seen_excluded" and len(lines) == 101
    model = Model.load(tmp_path / "runs" / "rec")
    assert len(model.recommend(["u1"], k=100)) == 60  # 40 of the 100 items seen


def test_an_unknown_user_and_other_tools_are_user_errors(tmp_path):
    _project(tmp_path, trainer={"epochs": 1})
    modelyard("train", "rec.yaml", cwd=tmp_path)
    for tool in (
        ["generate", "runs/rec", "--prompt", "hi"],
        ["export", "runs/rec", "--format", "onnx", "--out", "x.onnx"],
    ):
        user_error(modelyard(*tool, cwd=tmp_path, check=None))
    error = user_error(
        modelyard(
            "recommend", "runs/rec", "--user", "u1", "--user", "ghost", cwd=tmp_path, check=None
        )
    )
    assert "1 of 2 users are unknown to this model ('ghost')" in error
    assert "--fallback popular gives them the most popular items" in error


@pytest.mark.parametrize(
    ("change", "data", "message"),
    [
        (
            lambda f: f.assign(rating=f["rating"].where(f.index != 4, 7.5)),
            {"rating_scale": [1, 5]},
            "row 5: rating 7.5 in column 'rating' is outside data.rating_scale [1, 5]",
        ),
        (
            lambda f: pd.concat([f, f.iloc[[3]]]),
            {"duplicates": "error"},
            "1 (user, item) pairs appear more than once (e.g. user 'u0', item",
        ),
        (
            lambda f: f.assign(user=f["user"].where(f.index != 9, None)),
            {},
            "row 10: column 'user' has no id",
        ),
    ],
)
def test_bad_interactions_stop_train_and_validate_with_exit_2(tmp_path, change, data, message):
    _project(tmp_path, frame=change(synthetic_interactions()), data=data)
    for verb in ("validate", "train"):
        error = user_error(modelyard(verb, "rec.yaml", cwd=tmp_path, check=None))
        assert "ratings.csv: " in error and message in error, error


def test_config_mistakes_are_reported_before_reading_data(tmp_path):
    _project(
        tmp_path,
        data={"rating": None, "timestamp": None, "duplicates": "mean"},
        split={"by": "leave_last_out"},
        trainer={"early_stopping": {"metric": "ndcg_at_10"}},
        model={"popularity_correction": False},
    )
    error = user_error(modelyard("validate", "rec.yaml", "--config-only", cwd=tmp_path, check=None))
    assert "model.popularity_correction: applies to objective ranking with loss softmax" in error
    assert "model.objective: ratings needs data.rating" in error
    assert "data.duplicates: mean averages ratings, but data.rating is not set" in error
    assert "split.by: leave_last_out orders each user's interactions by time" in error
    assert "'ndcg_at_10' is not measured for objective ratings" in error


def test_validate_summarises_the_split(tmp_path):
    _project(tmp_path, split={"by": "leave_last_out"})
    result = modelyard("validate", "rec.yaml", cwd=tmp_path)
    assert "split (leave_last_out): train: 7600, validation: 200, test: 200" in result.stderr


def test_a_resumed_bpr_run_matches_an_uninterrupted_one(tmp_path):
    _project(
        tmp_path,
        model={"objective": "ranking"},
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
    history = pd.read_csv(tmp_path / "resumed" / "history.csv")
    assert history["epoch"].tolist() == [1, 2, 3]
    assert "validation_ndcg_at_10" in history.columns


def test_fit_takes_a_dataframe_in_python():
    config = {
        "task": "recommendation",
        "data": {"rating": "rating"},
        "model": {"dim": 4},
        "trainer": {"epochs": 2},
    }
    model = Model.from_config(config).fit(synthetic_interactions(users=30, items=20, per_user=5))
    assert model.metrics["test"]["rows"] == 15 and len(model.history) == 2
    assert len(model.recommend(["u3"], k=20)) == 15  # 5 of the 20 items seen


def test_bpr_with_l2_trains_under_torchrun(tmp_path):
    """The objectives reach the model through DDP's wrapper (one forward call per step)."""
    import os
    import subprocess
    import sys

    _project(tmp_path, model={"objective": "ranking"}, trainer={"epochs": 2})
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
        + ["-m", "modelyard", "train", "rec.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert _metrics(tmp_path)["test"]["users"] == 200


@pytest.mark.parametrize("objective", ["ratings", "ranking"])
def test_evaluate_on_the_test_interactions_gives_the_runs_test_metrics(tmp_path, objective):
    _project(
        tmp_path,
        split={"by": "leave_last_out"},
        model={"objective": objective},
        trainer={"epochs": 2},
    )
    modelyard("train", "rec.yaml", cwd=tmp_path)
    frame = pd.read_csv(tmp_path / "ratings.csv")
    last = frame.sort_values("timestamp").groupby("user").tail(1)
    stranger = pd.DataFrame({"user": ["new"], "item": ["i1"], "rating": [3.0], "timestamp": [1]})
    pd.concat([last, stranger]).to_csv(tmp_path / "test.csv", index=False)
    result = modelyard("evaluate", "runs/rec", "--data", "test.csv", cwd=tmp_path)
    found, expected = json.loads(result.stdout), _metrics(tmp_path)["test"]
    assert found.pop("rows_left_out") == 1
    expected.pop("loss")
    assert found.keys() == expected.keys()
    for name, value in expected.items():
        assert found[name] == pytest.approx(value, rel=1e-5), name


def test_predict_similar_items_and_the_popular_fallback_through_the_cli(tmp_path):
    _project(tmp_path, data={"rating_scale": [1, 5]}, trainer={"epochs": 2})
    modelyard("train", "rec.yaml", cwd=tmp_path)
    pairs = pd.DataFrame({"user": ["u1", "u2", "u3"], "item": ["i1", "i2", "i3"]})
    pairs.to_csv(tmp_path / "pairs.csv", index=False)
    modelyard("predict", "runs/rec", "--data", "pairs.csv", "--out", "p.csv", cwd=tmp_path)
    found = pd.read_csv(tmp_path / "p.csv")
    assert found.columns.tolist() == ["user", "item", "rating_prediction"]
    assert found["rating_prediction"].between(1, 5).all()
    expected = Model.load(tmp_path / "runs" / "rec").predict(pairs)["rating_prediction"]
    np.testing.assert_allclose(found["rating_prediction"], expected, rtol=1e-5)

    pd.concat([pairs, pd.DataFrame({"user": ["ghost"], "item": ["i1"]})]).to_csv(
        tmp_path / "more.csv", index=False
    )
    args = ["predict", "runs/rec", "--data", "more.csv", "--out", "q.csv"]
    error = user_error(modelyard(*args, cwd=tmp_path, check=None))
    assert "more.csv: 1 of 4 rows have a user or item this model does not know" in error
    assert "row 4: user 'ghost'" in error and not (tmp_path / "q.csv").exists()
    result = modelyard(*args, "--unknown", "skip", cwd=tmp_path)
    assert "left out (--unknown skip)" in result.stderr
    assert len(pd.read_csv(tmp_path / "q.csv")) == 3

    result = modelyard("recommend", "runs/rec", "--similar-to", "i1", "--k", "4", cwd=tmp_path)
    lines = result.stdout.splitlines()
    assert lines[0] == "item,rank,similar_item,similarity" and len(lines) == 5
    assert not any(line.split(",")[2] == "i1" for line in lines[1:])
    error = user_error(
        modelyard(
            "recommend",
            "runs/rec",
            "--similar-to",
            "i1",
            "--include-seen",
            cwd=tmp_path,
            check=None,
        )
    )
    assert "--similar-to ranks items" in error
    modelyard("export", "runs/rec", "--format", "projector", "--out", "items", cwd=tmp_path)
    names = (tmp_path / "items" / "metadata.tsv").read_text().splitlines()
    model = Model.load(tmp_path / "runs" / "rec")
    assert names == model.item_ids.tolist()
    shipped = np.fromfile(tmp_path / "items" / "tensors.bytes", dtype="<f4")
    np.testing.assert_allclose(shipped, model.module.item_vectors().detach().numpy().ravel())

    fallback = ["recommend", "runs/rec", "--user", "ghost", "--user", "u1", "--k", "3"]
    result = modelyard(*fallback, "--fallback", "popular", "--out", "top.csv", cwd=tmp_path)
    assert "1 of 2 users are unknown to this model; they got the 3 most popular" in result.stderr
    top = pd.read_csv(tmp_path / "top.csv")
    assert top["source"].tolist() == ["popular"] * 3 + ["model"] * 3
    counts = pd.read_csv(tmp_path / "ratings.csv")["item"].value_counts()
    assert top["item"].tolist()[:3] == counts.index[:3].tolist()


def test_sampled_metrics_are_written_beside_the_full_ranking_ones(tmp_path):
    _project(
        tmp_path,
        data={"rating": None},
        split={"by": "leave_last_out"},
        model={"objective": "ranking", "negatives": 4},
        evaluation={"sampled": {"negatives": 50, "seed": 1}},
        trainer={"epochs": 5, "optimizer": {"type": "adam", "lr": 0.02}},
    )
    result = modelyard("train", "rec.yaml", cwd=tmp_path)
    test = _metrics(tmp_path)["test"]
    assert test["protocol"] == "full ranking, seen items excluded"
    assert test["sampled_protocol"] == "sampled: 1 positive + 50 negatives"
    assert {"hr_at_10", "ndcg_at_10", "sampled_hr_at_10", "sampled_ndcg_at_10"} <= test.keys()
    assert '"sampled_hr_at_10"' in result.stdout  # printed with its name
    # 50 of the 59 items a user has not seen, against all of them: the sampled hit rate is higher
    assert test["sampled_hr_at_10"] > test["hr_at_10"]
    frame = pd.read_csv(tmp_path / "ratings.csv")
    frame.sort_values("timestamp").groupby("user").tail(1).to_csv(tmp_path / "t.csv", index=False)
    found = json.loads(modelyard("evaluate", "runs/rec", "--data", "t.csv", cwd=tmp_path).stdout)
    assert found["sampled_protocol"] == test["sampled_protocol"]
    assert found["hr_at_10"] == pytest.approx(test["hr_at_10"], rel=1e-5)


def test_too_many_sampled_negatives_stop_validate_and_train_before_the_first_epoch(tmp_path):
    _project(
        tmp_path,
        data={"rating": None},
        model={"objective": "ranking"},
        evaluation={"sampled": {"negatives": 99}},  # 100 items, 40 known by each user
    )
    for verb in ("validate", "train"):
        error = user_error(modelyard(verb, "rec.yaml", cwd=tmp_path, check=None))
        assert "evaluation.sampled.negatives: 99, but user 'u" in error
        assert "has only 60 items they have not interacted with" in error
    assert not (tmp_path / "runs" / "rec" / "history.csv").exists()


def test_sampled_metrics_of_a_ratings_run_are_a_config_error(tmp_path):
    _project(tmp_path, evaluation={"sampled": {"negatives": 99}})
    error = user_error(modelyard("validate", "rec.yaml", "--config-only", cwd=tmp_path, check=None))
    assert "evaluation.sampled: sampled ranking metrics apply to objective ranking" in error


def test_bad_input_after_training_is_a_user_error(tmp_path):
    frame = synthetic_interactions()
    _project(tmp_path, frame=pd.concat([frame, frame.iloc[[3]]]), data={"rating_scale": [1, 5]})
    result = modelyard("train", "rec.yaml", "--set", "trainer.epochs=1", cwd=tmp_path)
    assert "1 (user, item) pairs appear more than once" in result.stderr
    assert "kept the last row of each" in result.stderr  # the default, said
    frame.assign(rating=frame["rating"].where(frame.index != 2, 9.0)).to_csv(
        tmp_path / "bad.csv", index=False
    )
    error = user_error(
        modelyard("evaluate", "runs/rec", "--data", "bad.csv", cwd=tmp_path, check=None)
    )
    assert "row 3: rating 9 in column 'rating' is outside data.rating_scale [1, 5]" in error
    pd.DataFrame({"user": ["u1", None], "item": ["i1", "i2"]}).to_csv(
        tmp_path / "p.csv", index=False
    )
    args = ["predict", "runs/rec", "--data", "p.csv", "--out", "o.csv"]
    assert "row 2: column 'user' has no id" in user_error(
        modelyard(*args, cwd=tmp_path, check=None)
    )
