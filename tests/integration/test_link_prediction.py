"""Link prediction runs end to end through the CLI: a ring graph whose held-out `next` edges
follow from the `prev` edges of training, every model type, predict and evaluate, bad input."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.integration.cli_helpers import modelyard, user_error

pytestmark = pytest.mark.integration
N = 24


def _ring(tmp_path) -> None:
    """e0..e23 in a ring: (e_i, next, e_i+1) and (e_i+1, prev, e_i). Training has every prev
    edge and 18 next ones; validation and test 3 next edges each (test also one of an entity
    training lacks). Headerless TSV, as the benchmark files are."""
    nxt = [f"e{i}\tnext\te{(i + 1) % N}" for i in range(N)]
    prv = [f"e{(i + 1) % N}\tprev\te{i}" for i in range(N)]
    (tmp_path / "train.tsv").write_text("\n".join(prv + nxt[:18]) + "\n")
    (tmp_path / "valid.tsv").write_text("\n".join(nxt[18:21]) + "\n")
    (tmp_path / "test.tsv").write_text("\n".join([*nxt[21:], "e1\tnext\tghost"]) + "\n")


def _config(tmp_path, **sections) -> None:
    config = {
        "task": "link_prediction",
        "data": {"train": "train.tsv", "validation": "valid.tsv", "test": "test.tsv"},
        "model": {"type": "complex", "dim": 16},
        "trainer": {
            "epochs": 40,
            "batch_size": 32,
            "optimizer": {"type": "adam", "lr": 0.05},
            "early_stopping": None,
        },
    }
    for key, value in sections.items():
        config[key] = {**config.get(key, {}), **value}
    (tmp_path / "kg.yaml").write_text(yaml.safe_dump(config))


def _metrics(tmp_path) -> dict:
    return json.loads((tmp_path / "runs" / "kg" / "metrics.json").read_text())


def test_complex_learns_the_held_out_edges_and_predicts_them(tmp_path):
    _ring(tmp_path)
    _config(tmp_path)
    modelyard("train", "kg.yaml", cwd=tmp_path)
    run = tmp_path / "runs" / "kg"
    test = _metrics(tmp_path)["test"]
    assert test["mrr"] > 0.9 and test["hits_at_10"] == 1.0, test
    assert test["rows"] == 3 and test["queries"] == 6
    assert test["rows_left_out"] == {"entity not in training": 1}
    assert test["tie_rule"].startswith("realistic") and test["protocol"].startswith("filtered")
    history = pd.read_csv(run / "history.csv")
    assert {"validation_mrr", "validation_hits_at_10", "validation_loss"} <= set(history.columns)
    relations = pd.read_csv(run / "per_relation.csv")
    assert relations["relation"].tolist() == ["next"] and relations["queries"].tolist() == [6]
    vectors = np.load(run / "model" / "entity_embeddings.npy")
    names = (run / "model" / "entities.tsv").read_text().splitlines()
    assert vectors.shape == (N, 32) and sorted(names) == sorted(f"e{i}" for i in range(N))
    modelyard("export", "runs/kg", "--format", "projector", "--out", "proj", cwd=tmp_path)
    shipped = np.fromfile(tmp_path / "proj" / "tensors.bytes", dtype="<f4").reshape(N, 32)
    np.testing.assert_array_equal(shipped, vectors)
    assert (tmp_path / "proj" / "metadata.tsv").read_text().splitlines() == names
    again = modelyard(
        "export", "runs/kg", "--format", "projector", "--out", "proj", check=None, cwd=tmp_path
    )
    assert "--overwrite" in user_error(again)

    # (e21, next, ?) -> e22, held out of training, so not marked known; (?, next, e22) -> e21
    found = modelyard(
        "predict", "runs/kg", "--head", "e21", "--relation", "next", "--k", "3", cwd=tmp_path
    )
    table = pd.read_csv(io.StringIO(found.stdout))
    assert table.columns.tolist() == [
        "query",
        "head",
        "relation",
        "tail",
        "predicted",
        "rank",
        "score",
        "known",
    ]
    assert table.iloc[0][["head", "tail", "predicted", "rank"]].tolist() == [
        "e21",
        "e22",
        "tail",
        1,
    ]
    assert table.iloc[0]["known"]  # a test triple: known to the model's filter
    found = modelyard(
        "predict", "runs/kg", "--relation", "next", "--tail", "e22", "--k", "1", cwd=tmp_path
    )
    assert pd.read_csv(io.StringIO(found.stdout))["head"].tolist() == ["e21"]

    (tmp_path / "queries.tsv").write_text("e3\tprev\t?\n\tnext\te5\n")
    modelyard(
        "predict", "runs/kg", "--data", "queries.tsv", "--out", "top.csv", "--k", "2", cwd=tmp_path
    )
    top = pd.read_csv(tmp_path / "top.csv")
    assert top["query"].tolist() == [1, 1, 2, 2]
    assert top.loc[top["rank"] == 1, ["head", "tail"]].values.tolist() == [
        ["e3", "e2"],
        ["e4", "e5"],
    ]
    assert top.loc[top["rank"] == 1, "known"].tolist() == [True, True]

    evaluated = json.loads(
        modelyard("evaluate", "runs/kg", "--data", "test.tsv", cwd=tmp_path).stdout
    )
    assert evaluated["mrr"] == pytest.approx(test["mrr"])
    assert evaluated["rows_left_out"] == {"entity or relation not in training": 1}


def test_predict_refuses_unknown_names_and_malformed_queries(tmp_path):
    _ring(tmp_path)
    _config(tmp_path, trainer={"epochs": 1})
    modelyard("train", "kg.yaml", cwd=tmp_path)
    for args, message in (
        (("--head", "nobody", "--relation", "next"), "unknown entity 'nobody'"),
        (("--head", "e1", "--relation", "nope"), "unknown relation 'nope'"),
        (("--head", "e1", "--relation", "next", "--tail", "e2"), "exactly one of head and tail"),
        (("--relation", "next"), "exactly one of head and tail"),
    ):
        assert message in user_error(
            modelyard("predict", "runs/kg", *args, cwd=tmp_path, check=None)
        )


@pytest.mark.parametrize(
    ("model", "training"),
    [
        ({"type": "transe", "p_norm": 1}, {"loss": "negative_sampling", "negatives": 8}),
        ({"type": "rotate"}, {"loss": "negative_sampling", "self_adversarial": 1.0}),
        (
            {"type": "distmult"},
            {"loss": "negative_sampling", "corruption": "bernoulli", "inverse_relations": False},
        ),
        (
            {"type": "tucker", "relation_dim": 4},
            {"loss": "softmax", "label_smoothing": 0.1, "queries": "distinct"},
        ),
        ({"type": "complex"}, {"inverse_relations": False, "regularizer": "n3", "weight": 0.01}),
        ({"type": "conve", "dim": 20, "height": 4, "channels": 4}, {"loss": "softmax"}),
    ],
    ids=["transe", "rotate-adversarial", "distmult-bernoulli", "tucker", "complex-n3", "conve"],
)
def test_every_model_and_objective_trains_saves_and_predicts(tmp_path, model, training):
    _ring(tmp_path)
    _config(tmp_path, model=model, training=training, trainer={"epochs": 3})
    modelyard("train", "kg.yaml", cwd=tmp_path)
    test = _metrics(tmp_path)["test"]
    assert 0 < test["mrr"] <= 1 and 1 <= test["mean_rank"] <= N
    found = modelyard(
        "predict", "runs/kg", "--head", "e0", "--relation", "next", "--k", "5", cwd=tmp_path
    )
    assert len(pd.read_csv(io.StringIO(found.stdout))) == 5


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ("a\tr\tb\nb\tr\tc\tx\n", "train.tsv: line 2 has 4 fields but line 1 has 3"),
        ("a\tr\tb\nb\tr\n", "train.tsv: line 2 has 2 fields but line 1 has 3"),
        ("a\tr\tb\n\tr\tc\n", "train.tsv: line 2: empty head"),
    ],
)
def test_bad_triples_stop_with_exit_2_naming_file_and_line(tmp_path, train, message):
    (tmp_path / "train.tsv").write_text(train)
    (tmp_path / "kg.yaml").write_text(
        yaml.safe_dump({"task": "link_prediction", "data": {"train": "train.tsv"}})
    )
    assert message in user_error(modelyard("validate", "kg.yaml", cwd=tmp_path, check=None))
    assert message in user_error(modelyard("train", "kg.yaml", cwd=tmp_path, check=None))


def test_unknown_error_policy_stops_and_validate_reports_the_graph(tmp_path):
    _ring(tmp_path)
    _config(tmp_path)
    found = modelyard("validate", "kg.yaml", cwd=tmp_path)
    assert "triples: train: 42, validation: 3, test: 3; 24 entities, 2 relations" in found.stderr
    assert "left out 1 of 4 test triples" in found.stderr
    _config(tmp_path, data={"unknown": "error"})
    stderr = user_error(modelyard("validate", "kg.yaml", cwd=tmp_path, check=None))
    assert "1 test triples name an entity or relation that no training triple has" in stderr


def test_one_file_split_by_ratio(tmp_path):
    rows = [f"e{i},next,e{(i + 1) % N}" for i in range(N)] + [
        f"e{(i + 1) % N},prev,e{i}" for i in range(N)
    ]
    (tmp_path / "all.csv").write_text("h,r,t\n" + "\n".join(rows) + "\n")
    config = {
        "task": "link_prediction",
        "data": {"file": "all.csv", "columns": ["h", "r", "t"], "header": True},
        "split": {"validation": 0.1, "test": 0.1, "seed": 3},
        "model": {"dim": 8},
        "trainer": {"epochs": 2},
    }
    (tmp_path / "kg.yaml").write_text(yaml.safe_dump(config))
    modelyard("train", "kg.yaml", cwd=tmp_path)
    metrics = _metrics(tmp_path)
    dropped = sum(sum(m.get("rows_left_out", {}).values()) for m in metrics.values())
    assert metrics["test"]["rows"] + metrics["validation"]["rows"] + dropped == 10


def test_a_resumed_negative_sampling_run_matches_an_uninterrupted_one(tmp_path):
    """The negatives drawn on resume are those the uninterrupted run draws (seeded per epoch)."""
    import torch

    from modelyard import Model

    _ring(tmp_path)
    _config(
        tmp_path,
        model={"type": "rotate"},
        training={"loss": "negative_sampling", "negatives": 4},
        trainer={"epochs": 2, "keep_checkpoints": "last", "keep": "last"},
    )
    modelyard("train", "kg.yaml", "--output", "resumed", cwd=tmp_path)
    three = ["--set", "trainer.epochs=3"]
    modelyard("train", "kg.yaml", "--output", "resumed", "--resume", *three, cwd=tmp_path)
    modelyard("train", "kg.yaml", "--output", "straight", *three, cwd=tmp_path)
    resumed, straight = (Model.load(tmp_path / name).module for name in ("resumed", "straight"))
    for (name, a), b in zip(
        resumed.state_dict().items(), straight.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6, msg=name)
    assert pd.read_csv(tmp_path / "resumed" / "history.csv")["epoch"].tolist() == [1, 2, 3]


def test_serve_app_answers_queries_and_refuses_unknown_names(tmp_path):
    from fastapi.testclient import TestClient

    from modelyard import Model

    _ring(tmp_path)
    _config(tmp_path, trainer={"epochs": 1})
    modelyard("train", "kg.yaml", cwd=tmp_path)
    model = Model.load(tmp_path / "runs" / "kg")
    model.require("serve", "serve")  # allowed: the run has an app of its own
    app = model.create_app(max_batch_size=8, max_wait_ms=1, max_request_bytes=2**20, api_key="k")
    client = TestClient(app)
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/metadata").status_code == 401
    meta = client.get("/metadata", headers={"X-API-Key": "k"}).json()
    assert meta["entities"] == N and meta["relations"] == ["prev", "next"]
    body = {
        "queries": [{"head": "e1", "relation": "next"}, {"relation": "prev", "tail": "e4"}],
        "k": 2,
    }
    found = client.post("/predict", json=body, headers={"X-API-Key": "k"}).json()["predictions"]
    assert [(p["query"], p["rank"], p["predicted"]) for p in found] == [
        (1, 1, "tail"),
        (1, 2, "tail"),
        (2, 1, "head"),
        (2, 2, "head"),
    ]
    bad = {"queries": [{"head": "nobody", "relation": "next"}]}
    refused = client.post("/predict", json=bad, headers={"X-API-Key": "k"})
    assert refused.status_code == 422 and "unknown entity 'nobody'" in refused.json()["detail"]
