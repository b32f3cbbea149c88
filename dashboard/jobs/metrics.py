"""Scheduled jobs in /metrics: runs by outcome, durations, failures and how late each run started.

Without touching the jobs: every job added to a watched scheduler has its function wrapped (once,
as it is added) to time its runs and count their outcomes; APScheduler's events tell the rest,
how late a run was submitted against the time it was due, and the runs missed altogether.
"""

from __future__ import annotations

import datetime as dt
import functools
import time

from apscheduler.events import EVENT_JOB_ADDED, EVENT_JOB_MISSED, EVENT_JOB_SUBMITTED

from dashboard.store import metrics


def timed(job_id: str, func):
    """func, recording each run's duration and outcome under job_id."""
    if getattr(func, "cc_timed", False):
        return func

    @functools.wraps(func)
    def run(*args, **kwargs):
        started = time.perf_counter()
        try:
            result = func(*args, **kwargs)
        except BaseException:
            metrics.JOB_DURATION.labels(job_id).observe(time.perf_counter() - started)
            metrics.JOB_RUNS.labels(job_id, "error").inc()
            metrics.JOB_FAILURES.labels(job_id).inc()
            raise
        metrics.JOB_DURATION.labels(job_id).observe(time.perf_counter() - started)
        metrics.JOB_RUNS.labels(job_id, "ok").inc()
        return result

    run.cc_timed = True
    return run


def watch_jobs(*schedulers) -> None:
    """Record every job run of these APScheduler schedulers."""
    for scheduler in schedulers:
        if scheduler is None:
            continue

        def on_event(event, scheduler=scheduler) -> None:
            job_id = str(event.job_id)
            if event.code == EVENT_JOB_ADDED:
                job = scheduler.get_job(job_id, event.jobstore)
                if job is not None and not getattr(job.func, "cc_timed", False):
                    job.modify(func=timed(job_id, job.func))
            elif event.code == EVENT_JOB_SUBMITTED and event.scheduled_run_times:
                lag = (dt.datetime.now(dt.UTC) - event.scheduled_run_times[-1]).total_seconds()
                metrics.JOB_LAG.labels(job_id).set(max(0.0, lag))
            elif event.code == EVENT_JOB_MISSED:
                metrics.JOB_RUNS.labels(job_id, "missed").inc()

        scheduler.add_listener(on_event, EVENT_JOB_ADDED | EVENT_JOB_SUBMITTED | EVENT_JOB_MISSED)
