"""/healthz: database, calendar coverage and scheduler, for monitors and operators.

Anyone gets the status (ok, degraded, error; 503 on error). The details (lock holder's host and
pid, file paths, warnings) need a log-in, the monitor's X-Health-Token (CC_HEALTH_TOKEN), or
demo mode: they tell an attacker where things are.
"""

from __future__ import annotations

import datetime as dt
import hmac

from flask import Blueprint, current_app, jsonify, request

from dashboard.services.ingest import bulkload
from dashboard.store.database import db
from dashboard.web.auth import current_principal

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Report ok or degraded with the state of each part; 503 when the database is down."""
    calendar = current_app.extensions["work_calendar"]
    today = dt.datetime.now(calendar.timezone).date()
    database = db.ping()
    calendar_status = calendar.status(today)
    missing = _missing_indexes() if database == "ok" else []
    status = "ok"
    if database != "ok":
        status = "error"
    elif calendar_status["status"] == "degraded" or missing:
        status = "degraded"
    body = {
        "status": status,
        "database": {"status": database, "backend": db.engine.dialect.name},
        "calendar": calendar_status,
        # running: this process holds the lock and runs the shared jobs; standby: it waits to take
        # over; disabled: it never schedules (scheduler_lock.holder says who does).
        "scheduler": current_app.extensions["scheduler"].status(),
        "scheduler_lock": _scheduler_lock(database == "ok"),
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    warnings = [
        f"no holiday data for {year}: working days counted Monday–Friday; "
        f"add the official schedule to {current_app.config['CALENDAR_OVERRIDE_FILE']}"
        for year in calendar_status["fallback_years"]
    ]
    if missing:
        warnings.append(
            f"appeals indexes or keys missing: {', '.join(missing)}; a bulk load is running (it builds them "
            "when it ends) or was interrupted (the next file ingested, or `python app.py db upgrade`, builds them)"
        )
    if warnings:
        body["warnings"] = warnings
    code = 200 if status != "error" else 503
    if not _may_see_details():
        return jsonify({"status": status}), code
    return jsonify(body), code


def _may_see_details() -> bool:
    expected = current_app.config.get("HEALTH_TOKEN") or ""
    sent = request.headers.get("X-Health-Token", "")
    if expected and hmac.compare_digest(sent.encode(), expected.encode()):
        return True
    if current_app.config.get("DEMO_MODE"):
        return True
    try:
        return current_principal().authenticated
    except Exception:  # the database is down: a session cannot be checked, so no details
        return False


def _missing_indexes() -> list[str]:
    try:
        return bulkload.missing(db.engine)
    except Exception as exc:  # the health check must answer even if the schema cannot be read
        return [f"(could not be checked: {exc.__class__.__name__})"]


def _scheduler_lock(database_up: bool) -> dict:
    """The scheduler lock as this process sees it; who holds it is only asked while the database answers."""
    scheduler = current_app.extensions["scheduler"]
    lock = scheduler.lock
    body = {"kind": lock.kind, "lock": lock.describe(), "held_here": lock.held, "holder": None}
    if scheduler.since is not None:  # when this process last went running, standby or stopped
        body["since"] = scheduler.since.isoformat(timespec="seconds")
    if database_up:
        body["holder"] = lock.holder()
    return body
