"""`modelyard serve` of a recommendation run, through FastAPI's test client (no socket)."""

from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient

from tests.unit.recommend.handmade import handmade_recommender


@pytest.fixture
def client() -> TestClient:
    return TestClient(handmade_recommender("ranking").create_app())


def test_recommend_one_user_or_several_with_scores_and_seen_excluded(client):
    one = client.post("/recommend", json={"user": "a", "k": 2})
    assert one.status_code == 200
    [entry] = one.json()["recommendations"]
    assert entry["user"] == "a" and entry["seen_excluded"] is True and entry["source"] == "model"
    assert [i["item"] for i in entry["items"]] == ["y", "z"]  # x seen
    assert entry["items"][0]["score"] == pytest.approx(4.0)
    several = client.post("/recommend", json={"users": ["b", "a"], "k": 1, "include_seen": True})
    found = several.json()["recommendations"]
    assert [e["user"] for e in found] == ["b", "a"] and found[0]["seen_excluded"] is False
    assert found[1]["items"][0]["item"] == "y"


def test_an_unknown_user_is_a_422_saying_so_unless_the_fallback_is_asked(client):
    response = client.post("/recommend", json={"users": ["a", "ghost"]})
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", "users"]
    assert "1 of 2 users are unknown to this model ('ghost')" in detail["msg"]
    fallback = client.post("/recommend", json={"user": "ghost", "k": 2, "fallback": "popular"})
    [entry] = fallback.json()["recommendations"]
    assert entry["source"] == "popular" and [i["item"] for i in entry["items"]] == ["x", "y"]
    assert entry["items"][0]["score"] is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"user": "a", "users": ["b"]},
        {"user": "a", "k": 0},
        {"users": []},
        {"user": "a", "n": 1},
    ],
)
def test_malformed_recommend_requests_are_422s(client, body):
    assert client.post("/recommend", json=body).status_code == 422


def test_similar_items(client):
    response = client.post("/similar", json={"item": "x", "k": 2})
    assert response.status_code == 200
    [entry] = response.json()["similar"]
    assert entry["item"] == "x" and [i["item"] for i in entry["items"]] == ["y", "z"]
    assert entry["items"][0]["similarity"] == pytest.approx(2 / math.hypot(2, 0.1), abs=1e-6)
    unknown = client.post("/similar", json={"items": ["nope"]})
    assert unknown.status_code == 422 and "('nope')" in unknown.json()["detail"][0]["msg"]


def test_predict_pairs_of_a_ratings_run():
    client = TestClient(handmade_recommender("ratings").create_app())
    response = client.post("/predict", json={"pairs": [{"user": "a", "item": "y"}]})
    assert response.json() == {
        "predictions": [{"user": "a", "item": "y", "rating_prediction": 4.0}]
    }
    bad = client.post("/predict", json={"pairs": [{"user": "a", "item": "nope"}]})
    assert bad.status_code == 422
    assert (
        "1 of 1 rows have a user or item this model does not know" in bad.json()["detail"][0]["msg"]
    )


def test_health_metadata_and_api_key():
    client = TestClient(handmade_recommender("ratings").create_app(api_key="s3cret"))
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/metadata").status_code == 401
    assert client.post("/recommend", json={"user": "a"}).status_code == 401
    meta = client.get("/metadata", headers={"X-API-Key": "s3cret"}).json()
    assert meta["task"] == "recommendation" and meta["users"] == 2 and meta["items"] == 4
    assert meta["prediction"] == "rating_prediction" and meta["rating_scale"] == [1.0, 5.0]


def test_serve_picks_the_recommendation_app(monkeypatch, tmp_path):
    """`modelyard serve RUN` of a recommendation run serves these endpoints (uvicorn stubbed)."""
    import uvicorn

    from modelyard.serve import serve

    model = handmade_recommender("ranking")
    served = {}
    monkeypatch.setattr("modelyard.api.Model.load", staticmethod(lambda run: model))
    monkeypatch.setattr("modelyard.serve._listen", lambda host, port: None)
    monkeypatch.setattr(
        uvicorn.Server, "run", lambda self, sockets: served.update(app=self.config.app)
    )
    serve("run", "127.0.0.1", 8000, 32, 5.0, 1.0, "NO_SUCH_KEY_VARIABLE")
    paths = {route.path for route in served["app"].routes}
    assert {"/recommend", "/similar", "/predict", "/health", "/metadata"} <= paths
