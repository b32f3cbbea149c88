"""Scheduled jobs: shared ones run in the one process holding the scheduler lock, local ones in every process.

See dashboard/jobs/scheduler.py for the difference and dashboard/store/locks.py for the lock.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

from dashboard import memory
from dashboard.domain.workcal import build_calendar
from dashboard.services.ingest import dropfolder
from dashboard.services.simulator import Simulator
from dashboard.store.database import db

log = logging.getLogger(__name__)


def reload_calendar(app: Flask) -> None:
    """Re-read the holiday override file, so an operator's edit applies without a restart."""
    calendar = build_calendar(app.config["TIMEZONE"], Path(app.config["CALENDAR_OVERRIDE_FILE"]))
    app.extensions["work_calendar"] = calendar
    log.info("working-day calendar reloaded; fallback years: %s", calendar.fallback_years() or "none")


def scan_drop_folder(app: Flask) -> None:
    """Ingest files that have arrived in the drop folder."""
    dropfolder.process(app.extensions["ingestor"], Path(app.config["DROP_DIR"]))


def simulate(app: Flask, simulator: Simulator, seconds: float) -> None:
    """One tick of the live demo simulator."""
    created, steps = simulator.tick(seconds)
    log.debug("simulator: %d new appeals, %d steps", created, steps)


def delete_expired_sessions(app: Flask) -> None:
    """Delete log-in sessions past their lifetime from the database (Redis expires its own)."""
    from dashboard.store import sessions

    removed = sessions.remove_expired()
    if removed:
        log.info("deleted %d expired log-in session(s)", removed)


def export_missing_days(app: Flask) -> None:
    """Produce the KPI export of every local day that has none yet (yesterday, or several after downtime)."""
    from dashboard.services.exports import catch_up

    produced = catch_up(db, app.extensions["work_calendar"], Path(app.config["EXPORT_DIR"]))
    if produced:
        log.info("KPI exports produced for %s", ", ".join(d.isoformat() for d in produced))


def escalate_overdue(app: Flask) -> None:
    """Escalate overdue appeals by the rules of the SLA policy's [escalation] table (domain.escalation)."""
    from dashboard.services.escalation import run

    run(db, app.extensions["sla_policy"].escalation, app.extensions["work_calendar"])


WEBHOOK_RUN_SECONDS = 29.5  # each run of the webhook job; it starts every 30 s (and at once on takeover)


def deliver_webhooks(app: Flask) -> None:
    """Send the outbox's due webhook deliveries, looking every 100 ms, for one run of the job (services.webhooks).

    A run lasts almost as long as the job's interval, so due deliveries wait at most a poll, not a
    scheduler tick; it ends early when this process stops running the shared jobs (lock lost, shutdown).
    """
    from dashboard.services import webhooks

    scheduler = app.extensions["scheduler"]
    webhooks.run_for(
        db,
        seconds=WEBHOOK_RUN_SECONDS,
        timezone=app.config["TIMEZONE"],
        keep_going=lambda: scheduler.state == "running" and scheduler.lock.held,
    )


def enqueue_overdue_events(app: Flask) -> None:
    """An `overdue` event for each open appeal that has just passed its deadline (once per appeal)."""
    from dashboard.services import outbox

    with db.transaction() as session:
        queued = outbox.enqueue_overdue(session)
    if queued:
        log.info("outbox: %d appeal(s) became overdue", queued)


def raise_alerts(app: Flask) -> None:
    """Early warning (issue 19): raise, keep and auto-close surge, repeat and at-risk alerts (services.alerts)."""
    from dashboard.domain.alerts import load_rules
    from dashboard.services import alerts

    rules = load_rules(Path(app.config["ALERTS_FILE"]))
    alerts.run(db, rules=rules, timezone=app.config["TIMEZONE"])


def apply_retention(app: Flask) -> None:
    """Erase or anonymise personal data past its time (data/retention.toml); audited."""
    from dashboard.domain.retention import load_policy
    from dashboard.services import retention

    policy = load_policy(Path(app.config["RETENTION_FILE"]))
    retention.run(db, policy, Path(app.config["EXPORT_DIR"]))


RETENTION_TIME = {"hour": 2, "minute": 40}  # local time: after the exports, before the morning
EXPORT_TIME = {"hour": 0, "minute": 10}  # local time: the day before is complete and late feeds have landed


def register(app: Flask) -> None:
    """Add this module's jobs to the app's scheduler."""
    scheduler = app.extensions["scheduler"]
    # Shared: they change the database or the drop folder, so exactly one process runs them.
    scheduler.add_shared_job(scan_drop_folder, "interval", seconds=5, args=[app], id="drop_folder")
    scheduler.add_shared_job(
        export_missing_days,
        "cron",
        **EXPORT_TIME,
        args=[app],
        id="daily_export",
        misfire_grace_time=3600,  # a busy minute at 00:10 must not skip the day
        run_on_takeover=True,
    )
    # Shared: two processes escalating at once would only race for the same row locks.
    scheduler.add_shared_job(escalate_overdue, "interval", minutes=1, args=[app], id="sla_escalation")
    scheduler.add_shared_job(delete_expired_sessions, "interval", hours=1, args=[app], id="expired_sessions")
    # The webhook worker (issue 16): one long run per interval, polling every 100 ms.
    scheduler.add_shared_job(deliver_webhooks, "interval", seconds=30, args=[app], id="webhooks", run_on_takeover=True)
    scheduler.add_shared_job(enqueue_overdue_events, "interval", minutes=1, args=[app], id="overdue_events")
    scheduler.add_shared_job(raise_alerts, "interval", minutes=1, args=[app], id="alerts")
    scheduler.add_shared_job(
        apply_retention, "cron", **RETENTION_TIME, args=[app], id="retention", misfire_grace_time=6 * 3600
    )
    if app.config["SIMULATOR_RATE"] > 0:
        simulator = Simulator(app.extensions["ingestor"], app.config["SIMULATOR_RATE"])
        scheduler.add_shared_job(simulate, "interval", seconds=2, args=[app, simulator, 2.0], id="simulator")
    # Local: each process keeps its own calendar current (web.sockets closes its own revoked sockets).
    scheduler.add_local_job(reload_calendar, "interval", hours=1, args=[app], id="reload_calendar")
    # Local: each process gives its freed heap back to the system (dashboard/memory.py).
    scheduler.add_local_job(memory.trim, "interval", minutes=1, id="trim_memory")
