"""APScheduler 3.x wrapper: one process runs the shared jobs, every process runs its own upkeep.

Two kinds of jobs:
- shared jobs (drop folder, daily exports, simulator) act on the database and must run in
  exactly one process. They run only in the process holding the scheduler lock
  (dashboard.store.locks); every other process that may schedule waits on the lock in standby
  and takes over when the holder dies.
- local jobs (re-reading the holiday file, closing revoked walls' sockets) keep the state
  of one process current; every serving process runs its own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import signal
import threading
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler

from dashboard.jobs.metrics import watch_jobs
from dashboard.store.locks import SchedulerLock, lock_for

log = logging.getLogger(__name__)


class Scheduler:
    """Holds the shared-job and local-job schedulers and the lock; created unbound, bound by init_app."""

    def __init__(self) -> None:
        self.scheduler: BackgroundScheduler | None = None  # shared jobs: only while holding the lock
        self.local: BackgroundScheduler | None = None  # this process's upkeep
        self.enabled = False
        self.state = "disabled"
        self.since: dt.datetime | None = None
        self.poll_seconds = 5.0
        self._database_url = ""
        self._lock: SchedulerLock | None = None
        self._on_takeover: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._app = None

    def init_app(self, app) -> None:
        """Create both schedulers in the app's time zone; jobs are added by their modules."""
        running = (self._thread is not None and self._thread.is_alive()) or (self.local and self.local.running)
        if running:  # bound again (tests build many apps): stop the previous app's jobs and lock first
            self.shutdown()
        self.enabled = bool(app.config.get("SCHEDULER_ENABLED"))
        self.state = "stopped" if self.enabled else "disabled"
        self.poll_seconds = float(app.config.get("SCHEDULER_LOCK_POLL_SECONDS", 5.0))
        self._database_url = app.config["DATABASE_URL"]
        self._app = app
        self._lock = None
        self._on_takeover = []
        self._stop = threading.Event()
        self._thread = None
        job_defaults = {"coalesce": True, "max_instances": 1}
        self.scheduler = BackgroundScheduler(timezone=app.config["TIMEZONE"], job_defaults=job_defaults)
        self.local = BackgroundScheduler(timezone=app.config["TIMEZONE"], job_defaults=job_defaults)
        app.extensions["scheduler"] = self
        watch_jobs(self.scheduler, self.local)  # runs, durations, failures and lag in /metrics

    @property
    def lock(self) -> SchedulerLock:
        """The scheduler lock of this app's database (made on first use)."""
        if self._lock is None:
            self._lock = lock_for(self._database_url)
        return self._lock

    def add_shared_job(self, func: Callable, trigger: str, *, run_on_takeover: bool = False, **options) -> None:
        """A job that must run in exactly one process: it runs only while this process holds the lock."""
        job_id = options.pop("id", func.__name__)

        @functools.wraps(func)
        def run_if_holder(*args, **kwargs):
            # Pausing on a lost lock stops new runs; this guard also stops a run already queued.
            if not (self.state == "running" and self.lock.held):
                log.warning("job %s skipped: this process does not hold the scheduler lock", job_id)
                return None
            with self._app_context():
                return func(*args, **kwargs)

        self.scheduler.add_job(run_if_holder, trigger, id=job_id, name=func.__name__, replace_existing=True, **options)
        if run_on_takeover:
            self._on_takeover.append(job_id)

    def add_local_job(self, func: Callable, trigger: str, **options) -> None:
        """A job every serving process runs for itself."""
        job_id = options.pop("id", func.__name__)

        @functools.wraps(func)
        def run_in_app(*args, **kwargs):
            with self._app_context():
                return func(*args, **kwargs)

        self.local.add_job(run_in_app, trigger, id=job_id, name=func.__name__, replace_existing=True, **options)

    def _app_context(self):
        """Jobs run in their app's context, so that `db` and current_app are that app's."""
        app_context = getattr(self._app, "app_context", None)
        return app_context() if app_context is not None else contextlib.nullcontext()

    def start(self) -> None:
        """Run this process's local jobs and, when scheduling is enabled, contend for the lock in the background."""
        if self.local is not None and not self.local.running:
            self.local.start()
        if not self.enabled or self.scheduler is None or (self._thread and self._thread.is_alive()):
            return
        self.scheduler.start(paused=True)
        self._set_state("standby")
        self._stop.clear()
        self._thread = threading.Thread(target=self._contend, name="scheduler-lock", daemon=True)
        self._thread.start()

    def _set_state(self, state: str) -> None:
        self.state = state
        self.since = dt.datetime.now(dt.UTC)

    def _contend(self) -> None:
        """Try the lock every poll_seconds; while holding it run the shared jobs and keep checking it."""
        waiting_logged = unreachable_logged = False
        while not self._stop.is_set():
            try:
                acquired = self.lock.acquire()
                unreachable_logged = False
            except Exception as exc:
                if not unreachable_logged:  # once per outage, not every poll
                    log.warning("scheduler lock: the database cannot be reached (%s); retrying", exc.__class__.__name__)
                    unreachable_logged = True
                acquired = False
            if not acquired:
                if not waiting_logged:
                    log.info(
                        "waiting for the scheduler lock (%s, held by %s); standing by",
                        self.lock.describe(),
                        self.lock.holder() or "another process",
                    )
                    waiting_logged = True
                self._stop.wait(self.poll_seconds)
                continue
            waiting_logged = False
            self._lead()

    def _lead(self) -> None:
        """Run the shared jobs until the lock is lost or the scheduler is stopped."""
        log.info(
            "took over the scheduler lock (%s); running %d shared jobs",
            self.lock.describe(),
            len(self.scheduler.get_jobs()),
        )
        self._set_state("running")
        try:
            self.scheduler.resume()
            now = dt.datetime.now(self.scheduler.timezone)
            for job_id in self._on_takeover:  # e.g. the exports of days missed while no process held the lock
                job = self.scheduler.get_job(job_id)
                if job is not None:
                    job.modify(next_run_time=now)
            while not self._stop.wait(self.poll_seconds):
                if not self.lock.check():
                    log.error("lost the scheduler lock (%s); pausing the shared jobs", self.lock.describe())
                    break
        finally:
            self._set_state("stopped" if self._stop.is_set() else "standby")
            self.scheduler.pause()
            if not self._stop.is_set():  # when stopping, shutdown() releases it once running jobs are done
                self.lock.release()

    def shutdown(self, wait: bool = False) -> None:
        """Stop both schedulers (waiting for running jobs when asked) and release the lock."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.poll_seconds + 10)
        for jobs in (self.scheduler, self.local):
            if jobs is not None and jobs.running:
                jobs.shutdown(wait=wait)
        if self._lock is not None and self._lock.held:
            self._lock.release()
        if self.enabled:
            self._set_state("stopped")

    def run_until_stopped(self) -> None:
        """The `python app.py scheduler` process: contend, run, and on SIGTERM/SIGINT finish running jobs and exit."""
        stopping = threading.Event()

        def on_signal(signum, _frame):
            log.info("scheduler: %s received; finishing running jobs", signal.Signals(signum).name)
            stopping.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        self.start()
        while not stopping.wait(1.0):
            pass
        self.shutdown(wait=True)
        log.info("scheduler stopped; the scheduler lock is released")

    def status(self) -> str:
        """'running' (holds the lock), 'standby' (waits for it), 'stopped' or 'disabled', for /healthz."""
        return self.state if self.enabled else "disabled"
