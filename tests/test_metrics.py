"""/metrics: Prometheus text, refused to anonymous scrapers, counters moving after an ingest, a step and a push
(SQLite and PostgreSQL in-process; two gunicorn workers sharing PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from dashboard.store.database import db
from tests.conftest import private_calendar_file

TOKEN = "scrape-token-0123456789"
ROOT = Path(__file__).resolve().parent.parent
APPEAL = {
    "external_id": "METRICS-1",
    "source": "wechat",
    "reported_at": "2026-11-19 09:00:00",
    "category": "noise",
    "priority": "urgent",
    "region_code": "510107001002001",
    "description": "楼上噪音",
    "reporter_name": "张三丰",
    "reporter_phone": "13812341234",
}


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """(sample name, sorted labels) → value, from Prometheus text."""
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def value(values: dict, name: str, **labels) -> float:
    """A sample's value (0 when absent), summed over the labels not given."""
    return sum(v for (n, ls), v in values.items() if n == name and all(dict(ls).get(k) == w for k, w in labels.items()))


@pytest.fixture
def metrics_app(demo_app):
    demo_app.config.update(METRICS_TOKEN=TOKEN, METRICS_ALLOW="")
    return demo_app


def scrape(client, **headers) -> dict:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}", **headers})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return samples(response.get_data(as_text=True))


def test_anonymous_scraping_is_refused(metrics_app, client):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401
    metrics_app.config.update(METRICS_TOKEN="", METRICS_ALLOW="")
    assert (
        client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 403
    )  # nothing set: closed


def test_an_allowed_address_may_scrape_without_a_token(metrics_app, client):
    metrics_app.config.update(METRICS_TOKEN="", METRICS_ALLOW="10.0.0.0/8, 127.0.0.1/32, not-a-cidr")
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.2.3.4"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.168.1.9"}).status_code == 403
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 403


def test_counters_move_after_an_ingest_a_step_and_a_push(metrics_app, client, api_key):
    wall = metrics_app.extensions["socketio"].test_client(metrics_app, auth={"region": "510107"})
    assert wall.is_connected()
    before = scrape(client)
    assert value(before, "cc_sockets_connected", kind="wall", region="510107") >= 1
    response = client.post("/api/v1/appeals", json=[APPEAL, {"external_id": "bad"}], headers={"X-API-Key": api_key})
    assert response.status_code in (200, 207), response.get_json()
    appeal_id = client.get("/api/v1/appeals?external_id=METRICS-1", headers={"X-API-Key": api_key})
    from sqlalchemy import select

    from dashboard.store.models import Appeal

    with db.session() as session:
        appeal_id = session.scalar(select(Appeal.id).where(Appeal.external_id == "METRICS-1"))
    step = client.post(
        f"/api/v1/appeals/{appeal_id}/transitions", json={"action": "accept"}, headers={"X-API-Key": api_key}
    )
    assert step.status_code in (200, 201), step.get_json()
    after = scrape(client)
    source = {"source": "api:test-feed", "kind": "appeal"}
    assert (
        value(after, "cc_appeals_ingested_total", **source) == value(before, "cc_appeals_ingested_total", **source) + 1
    )
    assert (
        value(after, "cc_appeals_quarantined_total", **source)
        == value(before, "cc_appeals_quarantined_total", **source) + 1
    )
    assert (
        value(after, "cc_workflow_steps_total", action="accept")
        == value(before, "cc_workflow_steps_total", action="accept") + 1
    )
    assert value(after, "cc_push_events_sent_total") >= value(before, "cc_push_events_sent_total") + 2
    assert (
        value(after, "cc_push_commit_to_emit_seconds_count")
        >= value(before, "cc_push_commit_to_emit_seconds_count") + 2
    )
    assert ("cc_calendar_fallback", ()) in after
    assert value(after, "cc_database_up") == 1
    assert ("cc_outbox_deliveries", (("status", "pending"),)) in after
    assert value(after, "cc_db_pool_size") >= 1
    wall.disconnect()
    gone = scrape(client)
    assert (
        value(gone, "cc_sockets_connected", kind="wall", region="510107")
        == value(after, "cc_sockets_connected", kind="wall", region="510107") - 1
    )


def test_a_rolled_back_push_counts_as_dropped(metrics_app, client):
    from dashboard.services import push

    before = scrape(client)
    with db.session() as session:
        session.execute(text("SELECT 1"))  # a transaction to roll back
        push.queue_deltas(session, [{"type": "bulk", "region_code": "510107", "count": 1}])
        session.rollback()
    after = scrape(client)
    assert (
        value(after, "cc_push_events_dropped_total", reason="rollback")
        == value(before, "cc_push_events_dropped_total", reason="rollback") + 1
    )


def test_drill_callback_latency_is_recorded_by_page():
    from dashboard.web.metrics import callback_page

    assert callback_page("..drill-map.figure...drill-volume.figure..") == "drill"
    assert callback_page("wall-refresh.data") == "wall"
    assert callback_page(".._pages_content.children..._pages_store.data..") == "router"
    assert callback_page("nonsense") == "other" and callback_page(None) == "other"


def test_scheduler_jobs_are_counted_with_failures_and_lag(metrics_app, client):
    from apscheduler.schedulers.background import BackgroundScheduler

    from dashboard.jobs.metrics import watch_jobs

    jobs = BackgroundScheduler()
    watch_jobs(jobs)
    before = scrape(client)
    jobs.start()
    try:
        jobs.add_job(lambda: None, id="metrics_ok")
        jobs.add_job(lambda: 1 / 0, id="metrics_fails")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            after = scrape(client)
            if (
                value(after, "cc_scheduler_job_failures_total", job="metrics_fails")
                > value(before, "cc_scheduler_job_failures_total", job="metrics_fails")
                and value(after, "cc_scheduler_job_runs_total", job="metrics_ok", outcome="ok") > 0
            ):
                break
            time.sleep(0.05)
    finally:
        jobs.shutdown()
    assert value(after, "cc_scheduler_job_runs_total", job="metrics_fails", outcome="error") >= 1
    assert value(after, "cc_scheduler_job_seconds_count", job="metrics_ok") >= 1
    assert ("cc_scheduler_job_lag_seconds", (("job", "metrics_ok"),)) in after


# ---------------------------------------------------------------------------- two gunicorn workers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = condition()
            if last:
                return last
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


def test_two_gunicorn_workers_share_their_counters(database_url, tmp_path):
    """Ingest through whichever worker answers: any worker's /metrics shows the sum of both."""
    from dashboard import create_app
    from dashboard.domain.credentials import hash_api_key, new_api_key
    from dashboard.domain.vocab import Channel
    from dashboard.services import demo
    from dashboard.store.models import ApiKey

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "TESTING": True,
            "SECRET_KEY": "k",
            "SCHEDULER_ENABLED": False,
            "DEMO_MODE": True,
        }
    )
    with app.app_context():
        demo.generate(
            db,
            app.extensions["work_calendar"],
            app.extensions["sla_policy"],
            "k",
            scale="tiny",
            seed=3,
            progress=lambda _l: None,
        )
        key = new_api_key()
        with db.transaction() as session:
            session.add(ApiKey(name="gunicorn-feed", key_hash=hash_api_key(key), source=Channel.HOTLINE_12345))
    db.engine.dispose()
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    port = _free_port()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "CC_DATABASE_URL": database_url,
        "CC_SECRET_KEY": "k",
        "CC_SCHEDULER_ENABLED": "0",
        "CC_DEMO_MODE": "1",
        "CC_METRICS_TOKEN": TOKEN,
        "CC_EXPORT_DIR": str(tmp_path / "exports"),
        "CC_CALENDAR_OVERRIDE_FILE": private_calendar_file(tmp_path),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "-w",
            "2",
            "--threads",
            "4",
            "-b",
            f"127.0.0.1:{port}",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "gunicorn.log", "w"),  # noqa: SIM115 (closed with the process)
    )
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        _wait_for(lambda: requests.get(f"{base}/healthz", timeout=5).ok, 120, "gunicorn to answer")
        assert requests.get(f"{base}/metrics", timeout=5).status_code == 401
        # Both workers have started once each has written its own files (one per pid and kind).
        _wait_for(
            lambda: len({p.name.rsplit("_", 1)[-1] for p in multiproc.glob("*.db")}) >= 2, 60, "two workers' files"
        )
        before = samples(requests.get(f"{base}/metrics", headers=auth, timeout=10).text)
        for n in range(6):  # several connections: the kernel spreads them over both workers
            record = {**APPEAL, "external_id": f"GUNICORN-{n}"}
            with requests.Session() as session:
                response = session.post(f"{base}/api/v1/appeals", json=[record], headers={"X-API-Key": key}, timeout=30)
            assert response.ok, response.text
        source = {"source": "api:gunicorn-feed", "kind": "appeal"}

        def moved():
            after = samples(requests.get(f"{base}/metrics", headers=auth, timeout=10).text)
            return (
                after
                if value(after, "cc_appeals_ingested_total", **source)
                == value(before, "cc_appeals_ingested_total", **source) + 6
                else None
            )

        after = _wait_for(moved, 30, "the ingest counter to reach 6 in any worker's scrape")
        assert value(after, "cc_push_events_sent_total") >= value(before, "cc_push_events_sent_total") + 6
    finally:
        os.kill(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(server.pid, signal.SIGKILL)
            server.wait()


def test_the_alert_rules_and_the_dashboard_use_only_documented_metrics_that_exist():
    import json
    import re

    import yaml

    defined = set()
    for module in ("dashboard/store/metrics.py", "dashboard/web/metrics.py"):
        defined |= set(re.findall(r'"(cc_[a-z_]+)"', (ROOT / module).read_text()))
    documented = set(re.findall(r"`(cc_[a-z_]+)`", (ROOT / "docs" / "OPERATIONS.md").read_text()))
    assert defined <= documented, defined - documented
    assert documented <= defined, documented - defined
    suffixes = re.compile(r"_(bucket|count|sum)$")
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus-rules.yml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
    exprs += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = {suffixes.sub("", name) for expr in exprs for name in re.findall(r"\b(cc_[a-z_]+)", expr)}
    assert used and used <= defined, used - defined
