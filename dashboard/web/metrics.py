"""/metrics: the Prometheus text format, for the IT staff's Prometheus (docs/OPERATIONS.md).

Who may scrape: a request carrying `Authorization: Bearer <CC_METRICS_TOKEN>`, or one from an
address in CC_METRICS_ALLOW (comma-separated CIDRs, e.g. `10.0.0.0/8,127.0.0.1/32`). Anything
else is refused: 401 without a valid token, 403 from an address not allowed; with neither
setting the route is closed to everyone. The counts carry no personal data, but they tell how
busy the center is and which screens are down.

The metric objects live in dashboard.store.metrics (recorded by one-line hooks in the layers
that do the work). What only makes sense read at scrape time is read here: the calendar's
fallback, the outbox's depth and failures, and the walls' own health reports.
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import os
import re
import time

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException

from dashboard.domain import clock
from dashboard.store import metrics
from dashboard.store.database import db
from dashboard.store.models import WebhookDelivery
from dashboard.web.security import client_ip

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape():
    """Every metric of this process (or of all processes, in multiprocess mode) as Prometheus text."""
    refusal = _refusal()
    if refusal is not None:
        return refusal
    scrape_time = CollectorRegistry(auto_describe=False)
    scrape_time.register(ScrapeTimeCollector(current_app._get_current_object()))
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        everything = CollectorRegistry()
        multiprocess.MultiProcessCollector(everything)
        body = generate_latest(everything)
    else:
        body = generate_latest(REGISTRY)
    body += generate_latest(scrape_time)
    response = Response(body, mimetype=None, content_type=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response


def _refusal() -> Response | None:
    token = current_app.config.get("METRICS_TOKEN") or ""
    allow = _networks(current_app.config.get("METRICS_ALLOW") or "")
    sent = request.headers.get("Authorization", "")
    if token and sent.startswith("Bearer ") and hmac.compare_digest(sent[7:].strip().encode(), token.encode()):
        g.log_user = "metrics:token"
        return None
    if allow and _address_allowed(client_ip(), allow):
        g.log_user = "metrics:address"
        return None
    if token and not allow:
        response = Response("a valid bearer token is required (CC_METRICS_TOKEN)\n", 401, mimetype="text/plain")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return Response(
        "this address may not read the metrics (CC_METRICS_ALLOW, CC_METRICS_TOKEN)\n", 403, mimetype="text/plain"
    )


def _networks(text: str) -> list:
    networks = []
    for part in text.split(","):
        part = part.strip()
        if part:
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                current_app.logger.warning("CC_METRICS_ALLOW: %r is not an address or CIDR; ignored", part)
    return networks


def _address_allowed(address: str, networks: list) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == network.version and ip in network for network in networks)


class ScrapeTimeCollector(Collector):
    """Values read when scraped: calendar fallback, outbox, walls' health (this app's)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self):
        """Yield the scrape-time gauges."""
        calendar = self.app.extensions["work_calendar"]
        today = dt.datetime.now(calendar.timezone).date()
        fallback = GaugeMetricFamily(
            "cc_calendar_fallback", "1 while this year's working days are counted Monday–Friday (no holiday data)"
        )
        fallback.add_metric([], 1.0 if today.year in calendar.status(today)["fallback_years"] else 0.0)
        yield fallback
        yield from self._outbox()
        yield from wall_health_metrics(self.app, clock.utcnow().timestamp())

    def _outbox(self):
        depth = GaugeMetricFamily(
            "cc_outbox_deliveries",
            "Webhook deliveries by status (pending: the outbox's depth; dead: given up)",
            labels=["status"],
        )
        retrying = GaugeMetricFamily(
            "cc_outbox_deliveries_failing", "Pending webhook deliveries whose last attempt failed (being retried)"
        )
        up = GaugeMetricFamily("cc_database_up", "1 when the scrape could read the database")
        try:
            with db.session() as session:
                counts = dict(
                    session.execute(select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)).all()
                )
                failing = session.scalar(
                    select(func.count()).where(WebhookDelivery.status == "pending", WebhookDelivery.attempts > 0)
                )
        except Exception:
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        for status in ("pending", "delivered", "dead"):
            depth.add_metric([status], float(counts.get(status, 0)))
        retrying.add_metric([], float(failing or 0))
        yield from (up, depth, retrying)


def wall_health_metrics(app: Flask, now: float):
    """Gauges of every wall's latest report (web.wall_health keeps them)."""
    from dashboard.queries.walls import wall_rows

    rows = wall_rows(app.extensions["wall_reports"].all(now), now)
    report_age = GaugeMetricFamily(
        "cc_wall_report_age_seconds", "Seconds since a wall's last health report", labels=["wall", "region"]
    )
    data_age = GaugeMetricFamily(
        "cc_wall_data_age_seconds", "Seconds since a wall's data last changed on screen", labels=["wall", "region"]
    )
    connected = GaugeMetricFamily(
        "cc_wall_socket_connected",
        "1 when the wall's socket was connected at its last report",
        labels=["wall", "region"],
    )
    heap = GaugeMetricFamily(
        "cc_wall_js_heap_bytes", "The wall page's JavaScript heap at its last report", labels=["wall", "region"]
    )
    long_tasks = GaugeMetricFamily(
        "cc_wall_long_tasks", "Long tasks (>50 ms) on the wall page since it loaded", labels=["wall", "region"]
    )
    flagged = GaugeMetricFamily(
        "cc_walls", "Walls by health: ok, stale (data older than 1 min), silent (no report for 3 min)", labels=["state"]
    )
    states = {"ok": 0, "stale": 0, "silent": 0}
    for row in rows:
        labels = [row.wall, row.region]
        report_age.add_metric(labels, row.report_age)
        if row.data_age is not None:
            data_age.add_metric(labels, row.data_age)
        connected.add_metric(labels, 1.0 if row.socket == "connected" else 0.0)
        if row.heap_bytes is not None:
            heap.add_metric(labels, float(row.heap_bytes))
        long_tasks.add_metric(labels, float(row.long_tasks))
        states[row.state] += 1
    for state, count in states.items():
        flagged.add_metric([state], float(count))
    yield from (report_age, data_age, connected, heap, long_tasks, flagged)


# ---------------------------------------------------------------------------- Dash callbacks' latency

_OUTPUT_ID = re.compile(r"([a-z]+)-[a-z]")
PAGES = frozenset({"wall", "drill", "appeal", "admin", "exports", "console", "home", "tasks"})


def callback_page(output: object) -> str:
    """The page a Dash callback belongs to, from its output's component ids (a bounded label)."""
    if not isinstance(output, str):
        return "other"
    if "_pages_content" in output:
        return "router"
    match = _OUTPUT_ID.search(output)
    return match.group(1) if match and match.group(1) in PAGES else "other"


def _start_timer() -> None:
    if request.path == current_app.config.get("DASH_CALLBACK_PATH", "/_dash-update-component"):
        g.metrics_started = time.perf_counter()


def _observe(response):
    started = g.pop("metrics_started", None)
    if started is not None:
        try:
            body = request.get_json(silent=True, cache=True)
        except HTTPException:  # a body too large to read: it was refused (413) before any callback ran
            body = None
        page = callback_page(body.get("output") if isinstance(body, dict) else None)
        elapsed = time.perf_counter() - started
        metrics.CALLBACK_LATENCY.labels(page).observe(elapsed)
        if page == "wall":  # the wall's only server callback is its resync
            metrics.WALL_RESYNC.observe(elapsed)
    return response


def init_app(server: Flask) -> None:
    """Time Dash callbacks (before the guard, so refused ones count too)."""
    server.before_request_funcs.setdefault(None, []).insert(0, _start_timer)
    server.after_request(_observe)


# ---------------------------------------------------------------------------- sockets


def socket_joined(sid: str, token: str | None, region_code: str) -> None:
    """Count a socket: a wall (token, or none in demo mode) or a logged-in console."""
    kind = "wall"
    if not token:
        from dashboard.web.auth import current_principal

        try:
            kind = "console" if current_principal().authenticated else "wall"
        except Exception:
            kind = "wall"
    metrics.socket_connected(sid, kind, region_code)
