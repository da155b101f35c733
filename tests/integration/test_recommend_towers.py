"""Side features and the two-tower model end to end through the CLI: cold items scored from
their features, new items of the items table recommended, save/load, side-table errors."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
import yaml

from modelyard import Model
from modelyard.recommend.synthetic import synthetic_genres
from tests.integration.cli_helpers import modelyard, user_error

pytestmark = pytest.mark.integration

ITEMS = {
    "file": "items.csv",
    "features": [
        {"name": "title", "type": "text", "encoder": {"type": "bow", "min_count": 1, "dim": 16}},
        {"name": "genre", "type": "category"},
        {"name": "year", "type": "number"},
    ],
}


def _config(**sections) -> dict:
    config = {
        "task": "recommendation",
        "data": {"file": "ratings.csv", "timestamp": "timestamp"},
        "items": ITEMS,
        "split": {"by": "cold_items", "validation": 0.0, "test": 0.25, "seed": 1},
        "model": {"type": "two_tower", "dim": 16, "hidden": [32], "user_id": True},
        "trainer": {"epochs": 15, "batch_size": 64, "seed": 0},
    }
    for key, value in sections.items():
        config[key] = value if key == "model" else {**config.get(key, {}), **value}
    return config


def _project(tmp_path, ratings=None, table=None, **sections) -> None:
    """ratings.csv and items.csv (synthetic_genres unless given) and rec.yaml."""
    found, items = synthetic_genres()
    (ratings if ratings is not None else found).to_csv(tmp_path / "ratings.csv", index=False)
    (table if table is not None else items).to_csv(tmp_path / "items.csv", index=False)
    (tmp_path / "rec.yaml").write_text(yaml.safe_dump(_config(**sections)))


def test_cold_items_are_ranked_from_their_features_and_new_items_recommended(tmp_path):
    _project(tmp_path, evaluation={"k": [5]})
    trained = modelyard("train", "rec.yaml", cwd=tmp_path)
    assert (
        "items.csv: 4 items without interactions (e.g. 'i80') join the catalogue" in trained.stderr
    )
    test = json.loads((tmp_path / "runs" / "rec" / "metrics.json").read_text())["test"]
    # 20 cold test items, 5 of each genre; a user's targets are cold items of its genre, so
    # chance gives recall@5 about 0.25 and a ranking by genre 1.0
    assert test["protocol"].startswith("cold items")
    assert test["items"] == 20 and test["recall_at_5"] > 0.9
    # i80..i83: in the items table only (genres 0..3); a user of genre g (u % 4) should get
    # the new item of its genre among its top 21 (the 21 items of its genre), others not
    result = modelyard(
        "recommend", "runs/rec", *[f"--user=u{u}" for u in range(20)], "--k", "21",
        "--include-seen", cwd=tmp_path,
    )  # fmt: skip
    top = pd.read_csv(io.StringIO(result.stdout))
    new = top[top["item"].isin(["i80", "i81", "i82", "i83"])]
    matches = new["user"].str[1:].astype(int) % 4 == new["item"].str[1:].astype(int) % 4
    assert matches.sum() >= 18 and (~matches).sum() <= 4, new


def test_a_saved_two_tower_run_recommends_as_the_trained_model(tmp_path):
    _project(tmp_path, split={"by": "random", "validation": 0.0, "test": 0.2})
    model = Model.from_config(tmp_path / "rec.yaml", ["trainer.epochs=2"])
    model.fit(output_dir=tmp_path / "runs" / "rec")
    expected = model.recommend(["u1", "u2"], k=5)
    result = modelyard(
        "recommend", "runs/rec", "--user", "u1", "--user", "u2", "--k", "5", cwd=tmp_path
    )
    found = pd.read_csv(io.StringIO(result.stdout))
    assert found["item"].tolist() == expected["item"].tolist()
    assert found["score"].to_numpy() == pytest.approx(expected["score"].to_numpy(), abs=1e-5)
    saved = json.loads((tmp_path / "runs" / "rec" / "model" / "preprocessing.json").read_text())
    assert set(saved["sides"]["items"]) == {"title", "genre", "year"}
    assert len(saved["item_ids"]) == 84  # the 4 items without interactions are in the catalogue


def _duplicate_row(table: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([table, table.iloc[[2]]], ignore_index=True)


@pytest.mark.parametrize(
    ("ratings", "items", "message"),
    [
        (
            None,
            lambda t: t.drop(columns="year"),
            "items.csv: column 'year' (items.features 'year') is not in the table",
        ),
        (None, _duplicate_row, "items.csv: id 'i2' (column 'item') is in rows 3 and 85"),
        (
            None,
            lambda t: t[t["item"] != "i5"],
            "items.csv: 1 items of the interactions (column 'item') have no row here (column 'item'), e.g. 'i5'",
        ),
        (
            None,
            lambda t: t.assign(item=t["item"].where(t.index != 6, None)),
            "items.csv: row 7: column 'item' has no id",
        ),
    ],
)
def test_side_table_mistakes_stop_train_and_validate_with_exit_2(tmp_path, ratings, items, message):
    _, table = synthetic_genres()
    _project(tmp_path, table=items(table))
    for verb in ("validate", "train"):
        error = user_error(modelyard(verb, "rec.yaml", cwd=tmp_path, check=None))
        assert message in error, error


def test_features_from_interaction_columns_must_agree_per_item(tmp_path):
    found, table = synthetic_genres()
    ratings = found.merge(table, on="item")
    rows = (ratings["item"] == "i8").to_numpy().nonzero()[0]  # i8: genre g0
    ratings.loc[rows[-1], "genre"] = "other"
    _project(tmp_path, ratings=ratings, items={**ITEMS, "file": None})
    error = user_error(modelyard("train", "rec.yaml", cwd=tmp_path, check=None))
    assert "ratings.csv: column 'genre' of item 'i8' holds 'g0' in row" in error
    assert f"{rows[0] + 1} but 'other' in row {rows[-1] + 1}; each item's features" in error


def test_side_feature_config_mistakes_are_reported_at_once(tmp_path):
    _project(
        tmp_path,
        items={**ITEMS, "featurs": []},
        users={"features": [{"name": "photo", "type": "image"}]},
        model={"type": "mf"},
    )
    error = user_error(modelyard("validate", "rec.yaml", "--config-only", cwd=tmp_path, check=None))
    assert "items.featurs: unknown key" in error, error
    (tmp_path / "rec.yaml").write_text(
        yaml.safe_dump(
            _config(users={"features": [{"name": "photo", "type": "image"}]}, model={"type": "mf"})
        )
    )
    error = user_error(modelyard("validate", "rec.yaml", "--config-only", cwd=tmp_path, check=None))
    assert "side features are read by model.type: two_tower" in error
    assert "users.features[0] (photo): type image is not supported as a side feature" in error
    assert "split.by: cold_items keeps test items out of training" in error


def test_two_tower_fits_ratings_with_user_features_from_interaction_columns(tmp_path):
    from modelyard.recommend.synthetic import synthetic_interactions

    frame = synthetic_interactions()
    frame["group"] = "g" + (frame["user"].str[1:].astype(int) % 3).astype(str)
    frame.to_csv(tmp_path / "ratings.csv", index=False)
    config = {
        "task": "recommendation",
        "data": {"file": "ratings.csv", "rating": "rating"},
        "users": {"features": [{"name": "group", "type": "category"}]},
        "model": {"type": "two_tower", "objective": "ratings", "item_id": True, "dim": 8},
        "trainer": {"epochs": 15, "batch_size": 256},
    }
    (tmp_path / "rec.yaml").write_text(yaml.safe_dump(config))
    modelyard("train", "rec.yaml", cwd=tmp_path)
    test = json.loads((tmp_path / "runs" / "rec" / "metrics.json").read_text())["test"]
    assert test["rmse"] < 0.75 * float(frame["rating"].std())
    saved = json.loads((tmp_path / "runs" / "rec" / "model" / "preprocessing.json").read_text())
    assert list(saved["sides"]) == ["users"]


def test_frozen_minilm_titles_train_save_and_recommend(tmp_path):
    minilm = {
        "name": "title",
        "type": "text",
        "encoder": {"type": "pretrained", "model": "minilm", "freeze": "all", "dropout": 0.0},
    }
    _project(
        tmp_path,
        items={"features": [minilm]},
        split={"by": "random", "validation": 0.0, "test": 0.2},
        trainer={"epochs": 1},
    )
    model = Model.from_config(tmp_path / "rec.yaml")
    model.fit(output_dir=tmp_path / "runs" / "rec")
    expected = model.recommend(["u3"], k=5)
    result = modelyard("recommend", "runs/rec", "--user", "u3", "--k", "5", cwd=tmp_path)
    found = pd.read_csv(io.StringIO(result.stdout))
    assert found["item"].tolist() == expected["item"].tolist()
    assert found["score"].to_numpy() == pytest.approx(expected["score"].to_numpy(), abs=1e-4)


def test_a_dataframe_with_mixed_types_in_a_feature_column_saves_and_loads(tmp_path):
    found, items = synthetic_genres()
    frame = found.merge(items, on="item")
    frame["genre"] = frame["genre"].astype(object)
    frame.loc[frame["genre"] == "g0", "genre"] = 7  # ints and strings: Parquet refuses them
    config = {
        "task": "recommendation",
        "data": {},
        "items": {"features": [{"name": "genre", "type": "category"}]},
        "model": {"type": "two_tower", "dim": 4},
        "trainer": {"epochs": 1},
    }
    model = Model.from_config(config)
    model.fit(frame, output_dir=tmp_path / "run")
    loaded = Model.load(tmp_path / "run")
    expected = model.recommend(["u0"], k=3)
    assert loaded.recommend(["u0"], k=3)["item"].tolist() == expected["item"].tolist()


def test_items_given_after_training_are_recommended_from_their_features(tmp_path):
    _, table = synthetic_genres()
    table.to_csv(tmp_path / "later.csv", index=False)  # i80..i83 are new to the run
    _project(
        tmp_path,
        table=table[~table["item"].isin(["i80", "i81", "i82", "i83"])],
        split={"by": "random", "validation": 0.0, "test": 0.0},
    )
    modelyard("train", "rec.yaml", cwd=tmp_path)
    users = [f"--user=u{u}" for u in range(20)]
    before = modelyard("recommend", "runs/rec", *users, "--k", "21", cwd=tmp_path)
    assert not pd.read_csv(io.StringIO(before.stdout))["item"].isin(["i80", "i81"]).any()
    result = modelyard(
        "recommend", "runs/rec", *users, "--k", "21", "--include-seen", "--items", "later.csv",
        cwd=tmp_path,
    )  # fmt: skip
    assert "4 new items from later.csv" in result.stderr
    top = pd.read_csv(io.StringIO(result.stdout))
    new = top[top["item"].isin(["i80", "i81", "i82", "i83"])]
    matches = new["user"].str[1:].astype(int) % 4 == new["item"].str[1:].astype(int) % 4
    assert matches.sum() >= 18 and (~matches).sum() <= 4, new


def test_items_after_training_need_item_features(tmp_path):
    from modelyard.recommend.synthetic import synthetic_interactions

    synthetic_interactions().to_csv(tmp_path / "ratings.csv", index=False)
    (tmp_path / "items.csv").write_text("item,title\ni999,new\n")
    config = {
        "task": "recommendation",
        "data": {"file": "ratings.csv"},
        "model": {"objective": "ranking"},
        "trainer": {"epochs": 1},
    }
    (tmp_path / "rec.yaml").write_text(yaml.safe_dump(config))
    modelyard("train", "rec.yaml", cwd=tmp_path)
    error = user_error(
        modelyard(
            "recommend",
            "runs/rec",
            "--user",
            "u1",
            "--items",
            "items.csv",
            cwd=tmp_path,
            check=None,
        )
    )
    assert "--items: this run has no item features" in error


def test_a_user_of_the_users_table_without_interactions_gets_recommendations(tmp_path):
    found, _ = synthetic_genres()
    users = pd.DataFrame({"user": [f"u{u}" for u in range(60)] + ["newcomer"]})
    users["taste"] = ["g" + str(u % 4) for u in range(60)] + ["g2"]
    users.to_csv(tmp_path / "users.csv", index=False)
    _project(
        tmp_path,
        users={"file": "users.csv", "features": [{"name": "taste", "type": "category"}]},
        split={"by": "random", "validation": 0.0, "test": 0.0},
        model={"type": "two_tower", "dim": 16, "hidden": [32], "user_id": False},
    )
    modelyard("train", "rec.yaml", cwd=tmp_path)
    result = modelyard("recommend", "runs/rec", "--user", "newcomer", "--k", "10", cwd=tmp_path)
    top = pd.read_csv(io.StringIO(result.stdout))
    assert (top["item"].str[1:].astype(int) % 4 == 2).mean() >= 0.8  # genre g2, from its taste
    error = user_error(
        modelyard("recommend", "runs/rec", "--user", "ghost", cwd=tmp_path, check=None)
    )
    assert "1 of 1 users are unknown to this model ('ghost')" in error
