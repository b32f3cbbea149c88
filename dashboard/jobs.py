"""Scheduled jobs that keep the process's reference data current."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

from dashboard.extensions import scheduler
from dashboard.workcal import build_calendar

log = logging.getLogger(__name__)


def reload_calendar(app: Flask) -> None:
    """Re-read the holiday override file, so an operator's edit applies without a restart."""
    calendar = build_calendar(app.config["TIMEZONE"], Path(app.config["CALENDAR_OVERRIDE_FILE"]))
    app.extensions["work_calendar"] = calendar
    log.info("working-day calendar reloaded; fallback years: %s", calendar.fallback_years() or "none")


def register(app: Flask) -> None:
    """Add this module's jobs to the scheduler."""
    scheduler.scheduler.add_job(
        reload_calendar, "interval", hours=1, args=[app], id="reload_calendar", replace_existing=True
    )
