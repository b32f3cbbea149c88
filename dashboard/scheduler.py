"""APScheduler 3.x wrapper: jobs are registered by modules, started by the serving process."""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)


class Scheduler:
    """Holds one BackgroundScheduler; created unbound, bound by init_app."""

    def __init__(self) -> None:
        self.scheduler: BackgroundScheduler | None = None
        self.enabled = False

    def init_app(self, app) -> None:
        """Create the scheduler in the app's time zone; jobs are added by their modules."""
        self.enabled = bool(app.config.get("SCHEDULER_ENABLED"))
        self.scheduler = BackgroundScheduler(timezone=app.config["TIMEZONE"], job_defaults={"coalesce": True})
        app.extensions["scheduler"] = self

    def start(self) -> None:
        """Start running jobs (only in the process that owns scheduling)."""
        if self.enabled and self.scheduler is not None and not self.scheduler.running:
            self.scheduler.start()
            log.info("scheduler started with %d jobs", len(self.scheduler.get_jobs()))

    def shutdown(self) -> None:
        """Stop without waiting for running jobs."""
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def status(self) -> str:
        """'running', 'stopped' or 'disabled', for /healthz."""
        if not self.enabled:
            return "disabled"
        return "running" if self.scheduler is not None and self.scheduler.running else "stopped"
