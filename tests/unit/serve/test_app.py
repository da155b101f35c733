"""The HTTP app of `modelyard serve`, through FastAPI's test client (no socket)."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from modelyard.api import Model
from modelyard.serve.app import create_app
from tests.conftest import make_table, tiny_config, write_images


@pytest.fixture(scope="module")
def tabular() -> Model:
    model = Model.from_config(tiny_config(epochs=2))
    table = make_table()
    return model.fit(table.iloc[:120], table.iloc[120:])


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> tuple[Model, object]:
    folder = tmp_path_factory.mktemp("images")
    table = write_images(folder / "pics")
    table["image"] = [str(folder / p) for p in table["image"]]
    config = {
        "name": "pics",
        "inputs": [{"name": "image", "type": "image", "encoder": {"type": "mlp", "hidden": [8]}}],
        "outputs": [{"name": "label", "type": "category"}],
        "trainer": {"epochs": 1, "batch_size": 8},
    }
    return Model.from_config(config).fit(table, table), table


def _records(frame) -> list[dict]:
    columns = ["x1", "x2", "colour", "flag", "review"]
    return frame[columns].to_dict(orient="records")


def test_predictions_are_the_models_one_per_record_in_order(tabular):
    frame = make_table(rows=5, seed=7)
    response = TestClient(create_app(tabular)).post("/predict", json={"records": _records(frame)})
    assert response.status_code == 200
    got = response.json()["predictions"]
    expected = tabular.predict(frame, ids=False)
    assert [p["label_prediction"] for p in got] == list(expected["label_prediction"])
    assert [p["label_probability_yes"] for p in got] == pytest.approx(
        list(expected["label_probability_yes"]), abs=1e-6
    )


def test_bad_records_are_422s_naming_the_field(tabular):
    client = TestClient(create_app(tabular))
    record = _records(make_table(rows=1))[0]
    missing = client.post(
        "/predict", json={"records": [{k: v for k, v in record.items() if k != "x2"}]}
    )
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "records", 0, "x2"]
    unknown = client.post("/predict", json={"records": [{**record, "colur": "red"}]})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"][-1] == "colur"
    wrong = client.post("/predict", json={"records": [{**record, "x1": "tall"}]})
    assert wrong.status_code == 422 and "x1" in wrong.json()["detail"][0]["loc"]
    empty = client.post("/predict", json={"records": []})
    assert empty.status_code == 422


def test_size_limit_and_api_key(tabular):
    client = TestClient(create_app(tabular, max_request_bytes=300, api_key="s3cret"))
    assert client.get("/health").json() == {"status": "ok"}  # no key needed
    body = {"records": _records(make_table(rows=1))}
    assert client.post("/predict", json=body).status_code == 401
    assert client.post("/predict", json=body, headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.post("/predict", json=body, headers={"X-API-Key": "s3cret"}).status_code == 200
    big = {"records": _records(make_table(rows=20))}
    response = client.post("/predict", json=big, headers={"X-API-Key": "s3cret"})
    assert response.status_code == 413 and "limit is 300" in response.json()["detail"]
    assert client.get("/metadata").status_code == 401


def test_metadata_names_inputs_classes_and_versions(tabular):
    meta = TestClient(create_app(tabular)).get("/metadata").json()
    assert [i["name"] for i in meta["inputs"]] == ["x1", "x2", "colour", "flag", "review"]
    assert meta["outputs"] == [{"name": "label", "type": "category", "classes": ["no", "yes"]}]
    assert {"modelyard", "torch", "fastapi"} <= set(meta["versions"])


def test_concurrent_requests_share_model_calls(tabular):
    app = create_app(tabular, max_batch_size=64, max_wait_ms=300)
    frames = [make_table(rows=2, seed=s) for s in range(6)]

    async def send_all():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(
                *(client.post("/predict", json={"records": _records(f)}) for f in frames)
            )

    responses = asyncio.run(send_all())
    assert len(app.state.batcher.batches) < len(frames)  # batched
    assert sum(app.state.batcher.batches) == 12
    for frame, response in zip(frames, responses, strict=True):
        expected = tabular.predict(frame, ids=False)["label_prediction"]
        assert [p["label_prediction"] for p in response.json()["predictions"]] == list(expected)


def test_images_as_base64_and_files_and_a_bad_one_fails_alone(images, tmp_path):
    model, table = images
    app = create_app(model, max_wait_ms=300)
    path = table["image"].iloc[1]
    data = Path(path).read_bytes()
    expected = model.predict(table.iloc[1:2], ids=False)["label_prediction"].iloc[0]
    good = {"records": [{"image": base64.b64encode(data).decode()}]}
    bad = {"records": [{"image": base64.b64encode(b"not an image").decode()}]}

    async def send_both():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(
                client.post("/predict", json=good), client.post("/predict", json=bad)
            )

    ok, broken = asyncio.run(send_both())
    assert ok.status_code == 200 and ok.json()["predictions"][0]["label_prediction"] == expected
    assert broken.status_code == 422 and "cannot be read" in broken.json()["detail"][0]["msg"]
    client = TestClient(app)
    files = client.post("/predict/files", files={"image": ("x.png", data, "image/png")})
    assert files.status_code == 200
    assert files.json()["predictions"][0]["label_prediction"] == expected
    not_base64 = client.post("/predict", json={"records": [{"image": "%%%"}]})
    assert not_base64.status_code == 422
    assert not_base64.json()["detail"][0]["loc"] == ["body", "records", 0, "image"]


def _missing_config(policy: str) -> dict:
    config = tiny_config(epochs=1)
    config["inputs"][0]["preprocessing"] = {"missing": policy}
    return config


@pytest.fixture(scope="module")
def strict() -> Model:
    """x1 with missing: drop (no value to fill a missing one with); x2 fills with the mean."""
    table = make_table()
    return Model.from_config(_missing_config("drop")).fit(table.iloc[:120], table.iloc[120:])


def test_ill_typed_json_values_are_422s_naming_the_field(strict):
    client = TestClient(create_app(strict))
    record = _records(make_table(rows=1))[0]

    def loc_and_msg(**changes):
        body = json.dumps(
            {"records": [{**record, **changes}]}
        )  # NaN, Infinity as Python writes them
        response = client.post(
            "/predict", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, response.text
        return response.json()["detail"][0]["loc"], response.json()["detail"][0]["msg"]

    for bad in (float("nan"), float("inf")):
        loc, msg = loc_and_msg(x2=bad)
        assert loc == ["body", "records", 0, "x2"] and "null for a missing value" in msg
    loc, msg = loc_and_msg(colour=6)
    assert loc == ["body", "records", 0, "colour"] and "'blue'" in msg
    loc, msg = loc_and_msg(x1=None)
    assert loc[-1] == "x1"
    assert client.post("/predict", json={"records": [{**record, "x2": None}]}).status_code == 200


def test_null_is_filled_where_the_input_fills_missing_values(tabular):
    client = TestClient(create_app(tabular))
    record = _records(make_table(rows=1))[0]
    for field in ("x1", "colour", "review"):
        response = client.post("/predict", json={"records": [{**record, field: None}]})
        assert response.status_code == 200, (field, response.text)


def test_multipart_numbers_must_be_numbers(strict):
    client = TestClient(create_app(strict))
    record = {k: str(v) for k, v in _records(make_table(rows=1))[0].items()}
    assert client.post("/predict/files", data=record).status_code == 200
    response = client.post("/predict/files", data={**record, "x2": "tall"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "x2"]
    assert "'tall' is not a number" in response.json()["detail"][0]["msg"]
    assert client.post("/predict/files", data={**record, "x2": "nan"}).status_code == 422
    assert client.post("/predict/files", data={**record, "x1": ""}).status_code == 422
    assert client.post("/predict/files", data={**record, "x2": ""}).status_code == 200


def test_docs_work_offline(tabular):
    import re

    client = TestClient(create_app(tabular))
    page = client.get("/docs")
    assert page.status_code == 200
    assert not re.findall(r"https?://", page.text)  # no CDN, no external favicon
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
    assert {a.rsplit("/", 1)[-1] for a in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200 and len(response.content) > 1000, asset
    assert client.get("/redoc").status_code == 404  # its script would come from a CDN
