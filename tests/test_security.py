"""Hardening: security headers and CSP, session cookie flags, CSRF, rate limits and the body-size limit."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import uuid

import pytest
from flask import jsonify, request, session
from flask.json.provider import DefaultJSONProvider

from dashboard import create_app
from dashboard.domain.credentials import hash_api_key, new_api_key
from dashboard.domain.vocab import Channel
from dashboard.store import migrate
from dashboard.store.database import db
from dashboard.store.models import ApiKey
from dashboard.web import security
from dashboard.web.auth import Permission, requires
from tests.conftest import REDIS_URL, require_redis

FORM_PATH = "/test-only/form"
DASH_CALLBACK = "/_dash-update-component"


@pytest.fixture
def make_app(tmp_path):
    """Builds apps on one migrated SQLite database; each gets a form route and a client-IP route for tests."""
    url = f"sqlite:///{tmp_path / 'security.db'}"
    migrate.upgrade(url)
    built = []

    def make(**overrides):
        config = {
            "DATABASE_URL": url,
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "SCHEDULER_ENABLED": False,
            "DEMO_MODE": True,
            "EXPORT_DIR": str(tmp_path / "exports"),
        }
        app = create_app({**config, **overrides})

        @requires(Permission.PUBLIC)
        def form_view():
            if request.method == "GET":
                return jsonify(token=security.csrf_token())
            return jsonify(posted=request.form.get("note"))

        @requires(Permission.PUBLIC)
        def ip_view():
            session["seen"] = True  # makes the response set the session cookie
            return jsonify(ip=security.client_ip())

        app.add_url_rule(FORM_PATH, "test_form", form_view, methods=["GET", "POST", "PUT", "DELETE"])
        app.add_url_rule("/test-only/ip", "test_ip", ip_view)
        built.append(app)
        return app

    yield make
    db.engine.dispose()


def _add_key(name: str) -> str:
    key = new_api_key()
    with db.transaction() as session_:
        session_.add(ApiKey(name=name, key_hash=hash_api_key(key), source=Channel.HOTLINE_12345))
    return key


def _csp(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


# ---------------------------------------------------------------------------- headers and CSP


@pytest.mark.parametrize("path", ["/", "/wall", "/healthz", "/api/v1/openapi.json", "/api/v1/quarantine", "/nowhere"])
def test_every_response_carries_the_security_headers(make_app, path):
    response = make_app().test_client().get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response.headers["Permissions-Policy"]
    csp = _csp(response)
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["img-src"] == ["'self'", "data:"]
    assert csp["connect-src"] == ["'self'", "ws://localhost", "wss://localhost"]
    assert csp["object-src"] == ["'none'"]


def test_csp_admits_exactly_the_inline_scripts_dash_renders(make_app):
    response = make_app().test_client().get("/wall?lang=zh")
    # Dash's IE warning sits in a conditional comment, which no supported browser runs.
    html = re.sub(r"<!--.*?-->", "", response.get_data(as_text=True), flags=re.S)
    script_src = _csp(response)["script-src"]
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    inline = [
        body
        for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
        if "src=" not in attributes and "application/json" not in attributes
    ]
    assert inline, "Dash renders its renderer bootstrap inline"
    for body in inline:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src, body[:80]
    # Only those: every hash in the policy belongs to a script on the page.
    assert len([source for source in script_src if source.startswith("'sha256-")]) == len(set(inline))


def test_a_hostile_host_header_is_not_echoed_into_the_policy(make_app):
    response = make_app().test_client().get("/healthz", headers={"Host": "evil; script-src *"})
    assert _csp(response)["connect-src"] == ["'self'"]
    assert "*" not in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("overrides", "base_url", "secure"),
    [
        ({"DEMO_MODE": True}, "http://localhost", False),  # the demo over plain HTTP (make run, e2e tests)
        ({"DEMO_MODE": True}, "https://localhost", True),
        ({"DEMO_MODE": False}, "http://localhost", True),  # production: TLS may end at a proxy in front
        ({"DEMO_MODE": False, "INSECURE_COOKIES": True}, "https://localhost", False),
    ],
)
def test_cookie_flags_and_hsts_follow_the_secure_cookie_setting(make_app, overrides, base_url, secure):
    client = make_app(**overrides).test_client()
    response = client.get("/test-only/ip", base_url=base_url)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert ("Secure" in cookie) is secure
    assert ("Strict-Transport-Security" in response.headers) is secure


# ---------------------------------------------------------------------------- CSRF


def test_a_form_post_needs_the_session_token(make_app):
    client = make_app().test_client()
    refused = client.post(FORM_PATH, data={"note": "hello"})
    assert refused.status_code == 400
    assert "CSRF token is missing" in refused.get_data(as_text=True)  # Flask-WTF's reason
    token = client.get(FORM_PATH).get_json()["token"]
    wrong = client.post(FORM_PATH, data={"note": "hello", "csrf_token": token[::-1]})
    assert wrong.status_code == 400
    assert "CSRF token" in wrong.get_data(as_text=True)
    accepted = client.post(FORM_PATH, data={"note": "hello", "csrf_token": token})
    assert accepted.status_code == 200 and accepted.get_json() == {"posted": "hello"}
    by_header = client.post(FORM_PATH, data={"note": "hi"}, headers={"X-CSRFToken": token})
    assert by_header.status_code == 200


def test_the_token_is_per_session(make_app):
    app = make_app()
    alice, mallory = app.test_client(), app.test_client()
    alice_token = alice.get(FORM_PATH).get_json()["token"]
    mallory_token = mallory.get(FORM_PATH).get_json()["token"]
    assert alice_token != mallory_token
    # Flask-WTF signs the session's secret with a timestamp: every page gets its own token, all valid.
    assert alice.post(FORM_PATH, data={"csrf_token": alice_token}).status_code == 200
    assert alice.post(FORM_PATH, data={"csrf_token": mallory_token}).status_code == 400


BODIES = {
    "multipart": lambda: {"data": {"note": "x", "file": (io.BytesIO(b"a,b"), "a.csv")}},
    "text-plain": lambda: {"data": "note=x", "content_type": "text/plain"},
    "empty": lambda: {},
}


@pytest.mark.parametrize("body", list(BODIES))
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_every_non_json_state_change_needs_the_token(make_app, body, method):
    client = make_app().test_client()
    token = client.get(FORM_PATH).get_json()["token"]
    assert client.open(FORM_PATH, method=method, **BODIES[body]()).status_code == 400
    with_token = client.open(FORM_PATH, method=method, headers={"X-CSRFToken": token}, **BODIES[body]())
    assert with_token.status_code == 200


def test_json_bodies_need_a_same_origin(make_app):
    client = make_app().test_client()
    assert client.post(FORM_PATH, json={"note": "x"}).status_code == 200  # no Origin: not a cross-site browser
    same = client.post(FORM_PATH, json={"note": "x"}, headers={"Origin": "http://localhost"})
    assert same.status_code == 200
    for origin in ("https://evil.example", "null", "http://localhost.evil.example"):
        refused = client.post(FORM_PATH, json={"note": "x"}, headers={"Origin": origin})
        assert refused.status_code == 400, origin
        assert "cross-origin" in refused.get_data(as_text=True)


def _refresh_payload(client) -> dict:
    """The wall's resync callback as Dash's renderer posts it."""
    dependencies = client.get("/_dash-dependencies").get_json()
    spec = next(d for d in dependencies if any(i["id"] == "wall-refresh" for i in d["inputs"]))
    outputs = [
        {"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]}
        for part in spec["output"].strip(".").split("...")
    ]
    return {
        "output": spec["output"],
        "outputs": outputs,
        "inputs": [{"id": "wall-refresh", "property": "data", "value": 1}],
        "state": [
            {"id": "wall-state", "property": "data", "value": {"region": "510107", "lang": "zh", "token": ""}},
            {"id": "wall-viewport", "property": "data", "value": 1.0},
            {"id": "wall-versions", "property": "data", "value": None},
        ],
        "changedPropIds": ["wall-refresh.data"],
    }


def test_dash_callbacks_work_and_are_json_only(make_app):
    client = make_app().test_client()
    client.get("/wall")
    payload = _refresh_payload(client)
    same_origin = client.post(DASH_CALLBACK, json=payload, headers={"Origin": "http://localhost"})
    assert same_origin.status_code == 200, same_origin.get_data(as_text=True)[:300]
    assert "wall-kpis" in same_origin.get_json()["response"]
    cross = client.post(DASH_CALLBACK, json=payload, headers={"Origin": "https://evil.example"})
    assert cross.status_code == 400
    # Even with the session's token, a form body cannot reach a callback.
    token = client.get(FORM_PATH).get_json()["token"]
    form = client.post(DASH_CALLBACK, data={"csrf_token": token, "payload": "{}"})
    assert form.status_code == 400
    assert "application/json" in form.get_data(as_text=True)


def test_key_authenticated_apis_are_exempt(make_app):
    app = make_app()
    client = app.test_client()
    with app.app_context():
        key = _add_key("csrf-exempt")
    # No session, no token: the API key is the whole authentication, so CSRF does not apply.
    api = client.post("/api/v1/appeals", data="{}", headers={"X-API-Key": key}, content_type="application/x-ndjson")
    assert api.status_code == 200
    open311 = client.post("/open311/v2/requests.json", data={"api_key": key})
    assert open311.status_code == 400 and "service_code" in open311.get_data(as_text=True)


def test_csrf_field_is_a_hidden_input(make_app):
    app = make_app()
    with app.test_request_context("/"):
        field = str(security.csrf_field())
        assert field == f'<input type="hidden" name="csrf_token" value="{security.csrf_token()}">'


# ---------------------------------------------------------------------------- rate limits


def test_the_limiter_allows_the_limit_per_window(make_app):
    app = make_app()
    with app.app_context():
        decisions = [security.check_rate_limit("login:1.2.3.4", 3, 60) for _ in range(4)]
        assert [d.allowed for d in decisions] == [True, True, True, False]
        assert 1 <= decisions[-1].retry_after <= 60
        assert "at most 3 requests per 60 s" in decisions[-1].message
        assert security.check_rate_limit("login:5.6.7.8", 3, 60).allowed  # buckets are separate


def test_redis_limits_are_shared_by_processes(make_app):
    require_redis()
    first, second = make_app(REDIS_URL=REDIS_URL), make_app(REDIS_URL=REDIS_URL)  # as two web processes
    bucket = f"test:{uuid.uuid4().hex}"
    with first.app_context():
        assert security.rate_limit(bucket, 2, 3600)
    with second.app_context():
        assert security.rate_limit(bucket, 2, 3600)
    with first.app_context():
        refused = security.check_rate_limit(bucket, 2, 3600)
    assert not refused.allowed and 1 <= refused.retry_after <= 3600


def test_an_unreachable_redis_falls_back_to_counting_in_process(make_app, caplog):
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    with app.app_context():
        decisions = [security.rate_limit("test:fallback", 1, 60) for _ in range(2)]
    assert decisions == [True, False]
    assert "storage unavailable" in caplog.text


def test_rate_limits_use_redis_when_configured(make_app):
    from limits.storage import MemoryStorage, RedisStorage

    require_redis()
    assert isinstance(make_app(REDIS_URL=REDIS_URL).extensions["rate_limiter"].storage, RedisStorage)
    assert isinstance(make_app().extensions["rate_limiter"].storage, MemoryStorage)


def test_bulk_ingest_is_rate_limited_per_key(make_app):
    app = make_app(INGEST_RATE_LIMIT=2)
    client = app.test_client()
    with app.app_context():
        key, other = _add_key("busy-feed"), _add_key("quiet-feed")
    post = lambda k: client.post("/api/v1/appeals", json=[], headers={"X-API-Key": k})  # noqa: E731
    assert [post(key).status_code for _ in range(2)] == [200, 200]
    refused = post(key)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.get_json()["retry_after"] == int(refused.headers["Retry-After"])
    assert "at most 2 requests per 60 s" in refused.get_json()["error"]
    assert post(other).status_code == 200  # each key has its own budget


def test_open311_posts_are_rate_limited_per_key(make_app):
    app = make_app(INGEST_RATE_LIMIT=1)
    client = app.test_client()
    with app.app_context():
        key = _add_key("open311-feed")
    assert client.post("/open311/v2/requests.json", data={"api_key": key}).status_code == 400  # counted
    refused = client.post("/open311/v2/requests.xml", data={"api_key": key})
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert b"<errors><error><code>429</code>" in refused.data


def test_ingest_rate_limit_zero_is_off(make_app):
    app = make_app(INGEST_RATE_LIMIT=0)
    client = app.test_client()
    with app.app_context():
        key = _add_key("unlimited-feed")
    assert {client.post("/api/v1/appeals", json=[], headers={"X-API-Key": key}).status_code for _ in range(5)} == {200}


@pytest.mark.parametrize(("proxies", "expected"), [(0, "10.0.0.9"), (1, "203.0.113.7")])
def test_client_ip_believes_forwarded_for_only_from_trusted_proxies(make_app, proxies, expected):
    client = make_app(TRUSTED_PROXIES=proxies).test_client()
    response = client.get(
        "/test-only/ip", headers={"X-Forwarded-For": "203.0.113.7"}, environ_base={"REMOTE_ADDR": "10.0.0.9"}
    )
    assert response.get_json()["ip"] == expected


# ---------------------------------------------------------------------------- body size


def test_a_too_large_body_is_a_clear_413(make_app):
    app = make_app(MAX_CONTENT_LENGTH=1000)
    client = app.test_client()
    with app.app_context():
        key = _add_key("big-feed")
    body = "[" + ",".join(['{"external_id": "x"}'] * 100) + "]"
    api = client.post("/api/v1/appeals", data=body, headers={"X-API-Key": key}, content_type="application/json")
    assert api.status_code == 413
    assert api.get_json() == {
        "error": "the request body is too large: the limit is 1000 bytes (CC_MAX_CONTENT_LENGTH)",
        "limit": 1000,
    }
    # Refused on the declared length, before the key is even looked at.
    assert client.post("/api/v1/appeals", data=body, content_type="application/json").status_code == 413
    open311 = client.post("/open311/v2/requests.json", data={"api_key": key, "description": "x" * 2000})
    assert open311.status_code == 413
    assert open311.get_json()[0]["code"] == 413 and "1000 bytes" in open311.get_json()[0]["description"]
    page = client.post(FORM_PATH, data={"note": "x" * 2000})
    assert page.status_code == 413 and "1000 bytes" in page.get_data(as_text=True)
    small = client.post("/api/v1/appeals", json=[], headers={"X-API-Key": key})
    assert small.status_code == 200


def test_json_nested_past_the_stack_is_a_400_not_a_crash(make_app):
    app = make_app()
    client = app.test_client()
    with app.app_context():
        key = _add_key("deep-feed")
    deep = "[" * 100_000 + "]" * 100_000
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    for path in ("/api/v1/appeals", "/api/v1/appeals/1/transitions", "/api/v1/quarantine/1/replay"):
        response = client.post(path, data=deep, headers=headers)
        assert response.status_code == 400, (path, response.status_code)
    assert app.json.loads('{"a": [1]}') == {"a": [1]}
    assert app.json.dumps({"名": 1, "a": 2}) == DefaultJSONProvider(app).dumps({"名": 1, "a": 2})  # same settings
