"""Scheduled jobs that keep the process's reference data current."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

from dashboard.extensions import db, scheduler, socketio
from dashboard.ingest import dropfolder
from dashboard.simulator import Simulator
from dashboard.workcal import build_calendar

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


def close_revoked_walls(app: Flask) -> None:
    """Disconnect walls whose token was revoked (they cannot reconnect with it)."""
    from dashboard.sockets import disconnect_revoked

    closed = disconnect_revoked(socketio)
    if closed:
        log.info("closed %d wall connection(s) whose token was revoked", closed)


def export_missing_days(app: Flask) -> None:
    """Produce the KPI export of every local day that has none yet (yesterday, or several after downtime)."""
    from dashboard.exports import catch_up

    produced = catch_up(db, app.extensions["work_calendar"], Path(app.config["EXPORT_DIR"]))
    if produced:
        log.info("KPI exports produced for %s", ", ".join(d.isoformat() for d in produced))


def register(app: Flask) -> None:
    """Add this module's jobs to the scheduler."""
    jobs = scheduler.scheduler
    jobs.add_job(reload_calendar, "interval", hours=1, args=[app], id="reload_calendar", replace_existing=True)
    jobs.add_job(scan_drop_folder, "interval", seconds=5, args=[app], id="drop_folder", replace_existing=True)
    jobs.add_job(
        close_revoked_walls, "interval", seconds=30, args=[app], id="close_revoked_walls", replace_existing=True
    )
    if app.config["SIMULATOR_RATE"] > 0:
        simulator = Simulator(app.extensions["ingestor"], app.config["SIMULATOR_RATE"])
        jobs.add_job(simulate, "interval", seconds=2, args=[app, simulator, 2.0], id="simulator", replace_existing=True)
