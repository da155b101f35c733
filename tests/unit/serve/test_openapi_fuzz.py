"""Property-based requests generated from the server's own OpenAPI spec (schemathesis): whatever
a client sends, the server answers with a 2xx or 4xx, never a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from modelyard.api import Model
from modelyard.serve.app import create_app
from tests.conftest import make_table, tiny_config


@pytest.fixture(scope="module")
def app():
    table = make_table()
    model = Model.from_config(tiny_config(epochs=1)).fit(table.iloc[:120], table.iloc[120:])
    return create_app(model, max_wait_ms=1)


def test_no_request_from_the_spec_gets_a_server_error(app):
    _never_a_server_error(app, {"/predict", "/health", "/metadata"})


def test_no_request_to_a_recommendation_run_gets_a_server_error():
    from tests.unit.recommend.handmade import handmade_recommender

    app = handmade_recommender("ratings").create_app()
    _never_a_server_error(app, {"/recommend", "/similar", "/predict", "/health", "/metadata"})


def _never_a_server_error(app, paths: set[str]) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= paths
    for operation in operations:

        @settings(
            max_examples=40,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=operation.as_strategy())
        def check(case):
            response = case.call()
            assert response.status_code < 500, (case.body, response.text)

        check()
