"""The product's Prometheus metrics: defined once here, recorded by one-line hooks, served by web.metrics.

Why the store layer: every layer that records a metric (services: ingest, workflow, push; web:
sockets, Dash callbacks; jobs: the scheduler) sits above it and may import it, and the values
read at scrape time (outbox depth, the pool) come from the database, which lives here. The
domain stays pure (no metrics library there); ui is what screens are made of.

The objects are process-wide (prometheus_client's default registry). Under gunicorn with
several processes, set PROMETHEUS_MULTIPROC_DIR to an empty folder before the processes start:
each process then writes its values to files there and a scrape of any process sums them all
(gunicorn.conf.py clears the files of a worker that exits). See docs/OPERATIONS.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.orm import Session

# Buckets for things a person waits on (a click, a push to a screen): 5 ms … 10 s.
_HUMAN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

APPEALS_INGESTED = Counter(
    "cc_appeals_ingested_total", "Records stored by ingest (created or updated), by source and kind", ["source", "kind"]
)
APPEALS_QUARANTINED = Counter(
    "cc_appeals_quarantined_total",
    "Records rejected by ingest and kept in quarantine, by source and kind",
    ["source", "kind"],
)
APPEALS_STALE = Counter(
    "cc_appeals_stale_total",
    "Records older than what is stored (an out-of-order update), ignored, by source and kind",
    ["source", "kind"],
)
WORKFLOW_STEPS = Counter("cc_workflow_steps_total", "Workflow steps committed, by action", ["action"])
PUSH_SENT = Counter("cc_push_events_sent_total", "Deltas handed to the sockets after a commit")
PUSH_DROPPED = Counter(
    "cc_push_events_dropped_total", "Deltas never sent: their transaction rolled back, or publishing failed", ["reason"]
)
PUSH_LATENCY = Histogram(
    "cc_push_commit_to_emit_seconds", "From a commit to its deltas emitted on the sockets", buckets=_HUMAN_BUCKETS
)
SOCKETS_CONNECTED = Gauge(
    "cc_sockets_connected",
    "Socket.IO clients connected now, by kind (wall or console) and region",
    ["kind", "region"],
    multiprocess_mode="livesum",
)
WALL_RESYNC = Histogram(
    "cc_wall_resync_seconds", "A wall's resync (its server callback), end to end", buckets=_HUMAN_BUCKETS
)
CALLBACK_LATENCY = Histogram(
    "cc_dash_callback_seconds",
    "Dash callback requests (drill-down clicks, resyncs…), by page",
    ["page"],
    buckets=_HUMAN_BUCKETS,
)
JOB_RUNS = Counter(
    "cc_scheduler_job_runs_total", "Scheduled job runs, by job and outcome (ok, error, missed)", ["job", "outcome"]
)
JOB_FAILURES = Counter("cc_scheduler_job_failures_total", "Scheduled job runs that raised, by job", ["job"])
JOB_DURATION = Histogram(
    "cc_scheduler_job_seconds",
    "How long a scheduled job ran, by job",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800),
)
JOB_LAG = Gauge(
    "cc_scheduler_job_lag_seconds",
    "How late the last run of a job started against its schedule, by job",
    ["job"],
    multiprocess_mode="max",
)
OUTBOX_FAILURES = Counter(
    "cc_outbox_delivery_failures_total", "Webhook delivery attempts that failed, by webhook", ["webhook"]
)
POOL_CHECKED_OUT = Gauge(
    "cc_db_pool_checked_out", "Database connections in use now (checked out of the pools)", multiprocess_mode="livesum"
)
POOL_SIZE = Gauge("cc_db_pool_size", "Database connections the pools may keep open", multiprocess_mode="livesum")


# ---------------------------------------------------------------------------- hooks


def source_label(source: str) -> str:
    """A bounded label for an ingest source: API and Open311 keys by name, files and replays by kind only."""
    prefix, _, name = (source or "unknown").partition(":")
    return f"{prefix}:{name}"[:64] if prefix in ("api", "open311") and name else prefix[:32]


def ingest_done(report):
    """Count what one delivery did (services.ingest); returns the report."""
    labels = (source_label(report.source), report.kind)
    APPEALS_INGESTED.labels(*labels).inc(report.created + report.updated)
    APPEALS_QUARANTINED.labels(*labels).inc(report.quarantined)
    APPEALS_STALE.labels(*labels).inc(report.stale)
    return report


def step_applied(session: Session, action) -> None:
    """Count a workflow step when its transaction commits (services.workflow.apply)."""
    session.info.setdefault("metric_steps", []).append(getattr(action, "value", action))


def _count_after_commit(session: Session) -> None:
    for action in session.info.pop("metric_steps", ()):
        WORKFLOW_STEPS.labels(action).inc()


def _forget_after_rollback(session: Session) -> None:
    session.info.pop("metric_steps", None)


def push_dropped(deltas, reason: str = "rollback") -> None:
    """Count deltas that will never be sent (services.push)."""
    if deltas:
        PUSH_DROPPED.labels(reason).inc(len(deltas))


def timed_publisher(publisher: Callable[[list[dict]], None]) -> Callable[[list[dict]], None]:
    """publisher, counting what it sends and how long after the commit (it runs in the after-commit hook)."""

    def publish(deltas: list[dict]) -> None:
        started = time.perf_counter()
        try:
            publisher(deltas)
        except Exception:
            push_dropped(deltas, "error")
            raise
        PUSH_LATENCY.observe(time.perf_counter() - started)
        PUSH_SENT.inc(len(deltas))

    return publish


def delivery_failed(webhook_name: str) -> None:
    """Count one failed webhook delivery attempt (the outbox's deliverer calls this)."""
    OUTBOX_FAILURES.labels(webhook_name[:64]).inc()


_sockets: dict[str, tuple[str, str]] = {}


def socket_connected(sid: str, kind: str, region: str) -> None:
    """A wall or console socket joined (web.sockets)."""
    _sockets[sid] = (kind, region)
    SOCKETS_CONNECTED.labels(kind, region).inc()


def socket_disconnected(sid: str) -> None:
    """A socket left (web.sockets)."""
    labels = _sockets.pop(sid, None)
    if labels is not None:
        SOCKETS_CONNECTED.labels(*labels).dec()


def install(database) -> None:
    """Count committed steps and the pool's use of this database (create_app calls this once per app)."""
    if getattr(database, "metrics_installed", False):
        return
    database.metrics_installed = True
    event.listen(database.sessions, "after_commit", _count_after_commit)
    event.listen(database.sessions, "after_rollback", _forget_after_rollback)
    engine = database.engine
    pool = engine.pool
    size = pool.size() if hasattr(pool, "size") and callable(pool.size) else 0
    POOL_SIZE.inc(size)
    event.listen(engine, "checkout", lambda *_: POOL_CHECKED_OUT.inc())
    event.listen(engine, "checkin", lambda *_: POOL_CHECKED_OUT.dec())
