"""schemathesis against the served OpenAPI document: every /api/v1 operation, with generated
inputs both valid and invalid, sent with an API key, on each database backend. No response may
be a server error, and every response must be documented and match its schema.

schemathesis' own pytest integration (`from_fixture(...).parametrize()`) relies on a pytest
internal that pytest 9 removed, so each operation is driven here through its Hypothesis strategy.
"""

from __future__ import annotations

import datetime as dt
import os
from contextlib import ExitStack

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
)

from dashboard import create_app
from dashboard.domain.credentials import hash_api_key, new_api_key
from dashboard.domain.vocab import Channel
from dashboard.services import demo
from dashboard.store import migrate
from dashboard.store.database import db
from dashboard.store.models import ApiKey
from dashboard.web.openapi import document
from tests.conftest import BACKENDS, fresh_postgres_schema

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    ignored_auth,  # the operation really refuses a request without a valid key
]
EXAMPLES = int(os.environ.get("CC_SCHEMATHESIS_EXAMPLES", "30"))  # per operation and mode; raise it to search harder
OPERATIONS = sorted((path, method) for path, item in document()["paths"].items() for method in item)
DEMO_END = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module", params=BACKENDS)
def served(request, tmp_path_factory):
    """One app per backend with tiny demo data and an API key, shared by every operation's test."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('schemathesis') / 'api.db'}"
        else:
            url = stack.enter_context(fresh_postgres_schema())
        migrate.upgrade(url)
        app = create_app(
            {
                "DATABASE_URL": url,
                "TESTING": True,
                "SECRET_KEY": "test-secret-key",
                "SCHEDULER_ENABLED": False,
                "DEMO_MODE": True,
                "EXPORT_DIR": str(tmp_path_factory.mktemp("exports")),
                "INGEST_RATE_LIMIT": 0,  # a fuzzer is a very busy feed
            }
        )
        calendar, policy = app.extensions["work_calendar"], app.extensions["sla_policy"]
        demo.generate(db, calendar, policy, "test-secret-key", scale="tiny", seed=11, end=DEMO_END, progress=print)
        key = new_api_key()
        with db.transaction() as session:
            session.add(ApiKey(name="schemathesis", key_hash=hash_api_key(key), source=Channel.HOTLINE_12345))
        yield app, key
        db.engine.dispose()


@pytest.fixture(scope="module")
def api_schema(served):
    """The document as the app serves it, bound to the app (requests go through WSGI, no socket)."""
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", served[0])


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_every_operation_answers_as_documented(api_schema, served, path, method):
    _app, key = served
    operation = api_schema[path][method]
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=2 * EXAMPLES,
        deadline=None,
        database=None,  # the examples depend on the app's data, rebuilt each run
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(case=cases)
    def run(case):
        case.call_and_validate(headers={"X-API-Key": key}, checks=CHECKS)

    run()


def test_the_document_lists_every_api_route(api_schema, served):
    """schemathesis tests what the document describes, so the document must describe every route."""
    documented = {
        (method.upper(), "/api/v1" + path.replace("{", "<").replace("}", ">"))
        for path, item in api_schema.raw_schema["paths"].items()
        for method in item
    }
    served_routes = {
        (method, rule.rule.replace("<int:", "<"))
        for rule in served[0].url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api_v1.openapi_document"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert served_routes == documented
