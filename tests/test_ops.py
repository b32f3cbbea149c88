"""Running it 24/7: the walls' own health reports, the request id, and structured logs."""

from __future__ import annotations

import io
import json
import logging

import pytest

from dashboard.domain.credentials import hash_token
from dashboard.store.database import db
from dashboard.store.models import WallToken
from dashboard.web import logs

# These share one Redis (sessions, rate limits, the socket channel): one xdist worker runs them all.
pytestmark = pytest.mark.xdist_group("redis")

WALL_TOKEN = "wall-health-token-123"


def _token(region="510107"):
    with db.transaction() as tx:
        tx.add(WallToken(name="hall-left", token_hash=hash_token(WALL_TOKEN), region_code=region))


def test_a_wall_report_needs_the_walls_token_outside_demo_mode(demo_app, client):
    demo_app.config["DEMO_MODE"] = False
    _token()
    body = {"id": "screen-1", "data_age_ms": 2000, "socket": "connected", "heap_bytes": 50_000_000, "long_tasks": 3}
    assert client.post("/wall/health", json=body).status_code == 403
    client.set_cookie("cc_wall", "not-a-token")
    assert client.post("/wall/health", json=body).status_code == 403
    client.set_cookie("cc_wall", WALL_TOKEN)
    assert client.post("/wall/health", json=body).status_code == 204
    assert client.post("/wall/health", json={**body, "id": "../../etc"}).status_code == 400
    assert client.post("/wall/health", json=[1]).status_code == 400
    assert client.post("/wall/health", json={**body, "region": "510108"}).status_code == 403  # outside its token
    reports = demo_app.extensions["wall_reports"]
    import time

    ((wall, report),) = reports.all(time.time()).items()
    assert wall == "hall-left/screen-1" and report["region"] == "510107" and report["long_tasks"] == 3
    assert report["socket"] == "connected" and report["heap_bytes"] == 50_000_000


def test_walls_are_ok_stale_or_silent():
    from dashboard.queries.walls import wall_rows

    now = 10_000.0
    rows = wall_rows(
        {
            "a/1": {"region": "510107", "received_at": now - 30, "updated_at": now - 40},
            "a/2": {"region": "510107", "received_at": now - 30, "updated_at": now - 100},
            "a/3": {"region": "510107", "received_at": now - 181, "updated_at": now - 185},
            "a/4": {"region": "510107", "received_at": now - 5, "updated_at": None},
        },
        now,
    )
    assert [(r.wall, r.state) for r in rows] == [("a/3", "silent"), ("a/2", "stale"), ("a/4", "stale"), ("a/1", "ok")]


def test_wall_reports_are_shown_in_metrics(demo_app, client):
    demo_app.config["METRICS_TOKEN"] = "t0ken-for-metrics"
    body = {"id": "screen-9", "data_age_ms": 1000, "socket": "disconnected", "long_tasks": 0}
    assert client.post("/wall/health", json=body).status_code == 204  # demo mode: the open demo wall
    text = client.get("/metrics", headers={"Authorization": "Bearer t0ken-for-metrics"}).get_data(as_text=True)
    assert 'cc_wall_socket_connected{region="510107",wall="demo/screen-9"} 0.0' in text
    assert 'cc_walls{state="ok"}' in text


def test_every_response_carries_a_request_id_and_error_pages_show_it(client):
    response = client.get("/healthz")
    generated = response.headers["X-Request-ID"]
    assert len(generated) == 32
    sent = client.get("/healthz", headers={"X-Request-ID": "nginx-abc-12345"})
    assert sent.headers["X-Request-ID"] == "nginx-abc-12345"
    insane = client.get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script>"})
    assert insane.headers["X-Request-ID"] != "<script>alert(1)</script>" and len(insane.headers["X-Request-ID"]) == 32
    missing = client.get("/no/such/page.txt", headers={"X-Request-ID": "trace-0001-xyz", "Accept": "text/html"})
    if missing.status_code == 404:  # Dash's catch-all may serve its shell instead
        assert "trace-0001-xyz" in missing.get_data(as_text=True)
    refused = client.get("/metrics", headers={"X-Request-ID": "trace-0002-xyz"})
    assert refused.status_code in (401, 403) and refused.headers["X-Request-ID"] == "trace-0002-xyz"


def test_an_error_page_names_the_request_id(app):
    from werkzeug.exceptions import NotFound

    with app.test_request_context("/x", headers={"X-Request-ID": "trace-0003-xyz", "Accept": "text/html"}):
        response = logs.error_page(NotFound())
        assert response.status_code == 404
        assert "trace-0003-xyz" in response.get_data(as_text=True) and "请求编号" in response.get_data(as_text=True)


def _json_logger(stream):
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.RequestFields())
    handler.setFormatter(logs.SafeJsonFormatter())
    logger = logging.getLogger("cc.test.json")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def test_json_logs_carry_the_fields_and_never_a_token_or_a_phone(app):
    stream = io.StringIO()
    logger = _json_logger(stream)
    with app.test_request_context("/api/v1/appeals?api_key=secret-key-value", headers={"X-Request-ID": "req-12345678"}):
        from flask import g

        g.log_user = "api:hotline"
        logger.info("GET /api/v1/appeals?api_key=%s from %s", "secret-key-value", "13812345678")
    logger.info("outside a request")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert set(first) >= {"time", "level", "logger", "message", "request_id", "user"}
    assert first["level"] == "INFO" and first["logger"] == "cc.test.json"
    assert first["request_id"] == "req-12345678" and first["user"] == "api:hotline"
    assert "secret-key-value" not in first["message"] and "13812345678" not in first["message"]
    assert "138****5678" in first["message"]
    assert second["request_id"] is None and second["message"] == "outside a request"


def test_configure_writes_json_lines_when_asked(monkeypatch):
    root = logging.getLogger()
    saved = root.handlers[:]
    saved_level = root.level
    root.handlers = []
    try:
        logs.configure(logging.INFO, "json")
        (handler,) = root.handlers
        assert isinstance(handler.formatter, logs.SafeJsonFormatter)
        logs.configure(logging.INFO, "text")
        (handler,) = root.handlers
        assert not isinstance(handler.formatter, logs.SafeJsonFormatter)
    finally:
        root.handlers = saved
        root.setLevel(saved_level)


def test_wall_reports_are_shared_between_processes_through_redis():
    import time

    import redis

    from dashboard.store.wall_reports import REDIS_KEY, WallReports
    from tests.conftest import REDIS_URL, require_redis

    require_redis()
    redis.Redis.from_url(REDIS_URL).delete(REDIS_KEY)
    one, other = WallReports(REDIS_URL), WallReports(REDIS_URL)  # two web processes
    now = time.time()
    one.save("hall/left", {"region": "510107", "received_at": now, "updated_at": now - 3})
    assert other.all(now)["hall/left"]["region"] == "510107"
    other.forget("hall/left")
    assert "hall/left" not in one.all(now)
    redis.Redis.from_url(REDIS_URL).delete(REDIS_KEY)


def test_in_process_wall_reports_are_bounded(monkeypatch):
    from dashboard.store import wall_reports

    monkeypatch.setattr(wall_reports, "MAX_WALLS", 3)
    reports = wall_reports.WallReports()
    for n in range(5):
        reports.save(f"t/{n}", {"received_at": 1000.0 + n})
    assert sorted(reports.all(1010.0)) == ["t/2", "t/3", "t/4"]
