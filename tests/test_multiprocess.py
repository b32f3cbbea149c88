"""Past one process: push across web processes through Redis, and exactly one scheduler.

The scheduler tests start real `python app.py …` processes and kill them with SIGKILL, as a
crash would. PostgreSQL and Redis tests skip when those are missing, unless
CC_REQUIRE_SERVICES=1 (set by .ci/run), which turns the skip into a failure.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import socketio
from sqlalchemy import func, select

from dashboard import create_app
from dashboard.config import ROOT
from dashboard.jobs.scheduler import Scheduler
from dashboard.store import migrate
from dashboard.store.database import db
from dashboard.store.locks import FileLock, PostgresAdvisoryLock, process_name
from dashboard.store.models import Appeal, DailyExport
from tests.conftest import DEMO_END, REQUIRE_SERVICES, fresh_postgres_schema

# These share one Redis (sessions, rate limits, the socket channel): one xdist worker runs them all.
pytestmark = pytest.mark.xdist_group("redis")

REDIS_URL = os.environ.get("CC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SOCKETIO_CHANNEL = "flask-socketio"  # Flask-SocketIO's default channel on the message queue
SECRET = "test-secret-key"
WAIT_SECONDS = 90  # an upper bound for a process to reach a state on a busy 2-core machine, never a target
SHARED_JOBS = ("scan_drop_folder", "export_missing_days")


def require_redis() -> None:
    """Skip (or, in CI, fail) when Redis is not reachable."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:
        message = f"Redis at {REDIS_URL} is not reachable ({exc.__class__.__name__}: {exc})"
        if REQUIRE_SERVICES:
            pytest.fail(message + "; CC_REQUIRE_SERVICES=1 forbids skipping")
        pytest.skip(message)


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, what: str, seconds: float = WAIT_SECONDS, on_timeout=lambda: ""):
    """Poll condition() until it returns something truthy; fail with what (and on_timeout()) otherwise."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}\n{on_timeout()}")


class AppProcess:
    """`python app.py ARGS` in a subprocess, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.log = workdir / f"{name}.log"
        self.handle = self.log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env, stdout=self.handle, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        """The process id (also the one in its host:pid name)."""
        return self.process.pid

    def text(self) -> str:
        """Everything the process logged so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def tail(self) -> str:
        """The end of the log, for failure messages."""
        return f"--- {self.name} (exit {self.process.poll()}) ---\n{self.text()[-4000:]}"

    def wait_for(self, needle: str) -> None:
        """Wait until the log shows needle; fail at once if the process exits first."""

        def seen():
            if needle in self.text():
                return True
            if self.process.poll() is not None:
                pytest.fail(f"{self.name} exited before logging {needle!r}\n{self.tail()}")
            return False

        wait_until(seen, f"{self.name} to log {needle!r}", on_timeout=self.tail)

    def kill(self) -> None:
        """SIGKILL, as a crash: no handler runs, nothing is cleaned up by the process."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit; closes the log."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.handle.close()


def shared_job_runs(log_text: str) -> int:
    """How many shared-job runs a process logged (APScheduler logs each run it starts)."""
    return sum(log_text.count(f'Running job "{name} ') for name in SHARED_JOBS)


def holder_keeps_running(holder: AppProcess) -> None:
    """Wait for three more shared-job runs of the holder: a standby started before has had over 10 s.

    Long enough for a standby that wrongly ran its own jobs to run the drop folder (every 5 s) too.
    """
    runs = shared_job_runs(holder.text())
    wait_until(lambda: shared_job_runs(holder.text()) >= runs + 3, f"{holder.name} to run", on_timeout=holder.tail)


def prepare_database(url: str, with_demo: bool) -> str | None:
    """Migrate; optionally add tiny demo data and an API key (returned)."""
    from dashboard.domain.credentials import hash_api_key, new_api_key
    from dashboard.domain.vocab import Channel
    from dashboard.services import demo
    from dashboard.store.models import ApiKey

    migrate.upgrade(url)
    if not with_demo:
        return None
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": SECRET, "SCHEDULER_ENABLED": False})
    demo.generate(
        db,
        app.extensions["work_calendar"],
        app.extensions["sla_policy"],
        SECRET,
        scale="tiny",
        seed=11,
        end=DEMO_END,
        progress=lambda _line: None,
    )
    key = new_api_key()
    with db.transaction() as session:
        session.add(ApiKey(name="multiprocess", key_hash=hash_api_key(key), source=Channel.HOTLINE_12345))
    return key


def environment(url: str, workdir: Path, **extra: str) -> dict[str, str]:
    """The environment of every process of one deployment under test."""
    return {
        **os.environ,
        "CC_DATABASE_URL": url,
        "CC_SECRET_KEY": SECRET,
        "CC_DEMO_MODE": "1",  # the wall is open without a token
        "CC_EXPORT_DIR": str(workdir / "exports"),
        "CC_DROP_DIR": str(workdir / "dropbox"),
        "CC_SCHEDULER_LOCK_POLL_SECONDS": "0.5",
        "CC_REDIS_URL": "",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def appeal(external_id: str, marker: str) -> dict:
    """An appeal in compound 510107001001001 of the tiny demo, with a marker in its public text."""
    return {
        "external_id": external_id,
        "source": "hotline_12345",
        "reported_at": "2026-11-19 09:00:00",
        "category": "噪音扰民",
        "priority": "普通",
        "region_code": "510107001001001",
        "description": f"{marker} 夜间噪音",
    }


def drop_file(dropbox: Path, name: str, records: list[dict]) -> None:
    """Put a finished file in the drop folder (its mtime is old, so it counts as settled)."""
    incoming = dropbox / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    partial = incoming / (name + ".part")
    partial.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    old = time.time() - 60
    os.utime(partial, (old, old))
    partial.rename(incoming / name)


def ingested_reports(dropbox: Path, name: str) -> list[dict]:
    """Reports of every time the drop folder moved a file of that name to done/."""
    done = dropbox / "done"
    return (
        [json.loads(path.read_text()) for path in sorted(done.glob(f"*_{name}.report.json"))] if done.exists() else []
    )


class WallClient:
    """A python-socketio client that connects like a wall (websocket only) and keeps the deltas it gets."""

    def __init__(self, url: str, region: str) -> None:
        self.deltas: list[dict] = []
        self._lock = threading.Lock()
        self.client = socketio.Client(reconnection=False)
        self.client.on("wall_delta", self._on_delta)
        self.client.connect(url, auth={"region": region}, transports=["websocket"], wait_timeout=30)

    def _on_delta(self, message):
        with self._lock:
            self.deltas.extend(message["deltas"])

    def with_text(self, marker: str) -> list[dict]:
        """The deltas received so far whose public text holds marker."""
        with self._lock:
            return [d for d in self.deltas if marker in (d.get("text") or "")]

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()


# --- the lock itself, in one process --------------------------------------------------------------


def test_the_file_lock_is_exclusive_and_names_its_holder(tmp_path):
    path = tmp_path / "cc.db.scheduler.lock"
    first, second = FileLock(path), FileLock(path)
    assert first.acquire() and first.check()
    assert not second.acquire() and not second.held
    assert second.holder() == process_name()
    first.release()
    assert second.holder() is None
    assert second.acquire() and not first.acquire()
    path.unlink()  # someone removed the file: the holder can no longer be sure
    assert not second.check()
    second.release()


def test_the_advisory_lock_is_exclusive_per_schema():
    with fresh_postgres_schema() as url, fresh_postgres_schema() as other_url:
        first, second, elsewhere = PostgresAdvisoryLock(url), PostgresAdvisoryLock(url), PostgresAdvisoryLock(other_url)
        try:
            assert first.acquire() and first.check()
            assert not second.acquire()
            assert second.holder() == process_name()
            assert elsewhere.acquire(), "another schema is another deployment with its own lock"
            first.release()
            assert second.holder() is None
            assert second.acquire() and second.check()
            assert not first.check()
        finally:
            for lock in (first, second, elsewhere):
                lock.release()


class _AppStub:
    """What Scheduler.init_app reads from a Flask app."""

    def __init__(self, url: str) -> None:
        self.config = {
            "SCHEDULER_ENABLED": True,
            "TIMEZONE": "Asia/Shanghai",
            "DATABASE_URL": url,
            "SCHEDULER_LOCK_POLL_SECONDS": 0.1,
        }
        self.extensions: dict = {}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_only_the_lock_holder_runs_shared_jobs_and_the_standby_takes_over(backend, tmp_path):
    runs: dict[str, int] = {"first": 0, "second": 0}
    with contextlib.ExitStack() as cleanup:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path / 'lock.db'}"
        else:
            url = cleanup.enter_context(fresh_postgres_schema())
        schedulers = {}
        for name in runs:
            scheduler = Scheduler()
            scheduler.init_app(_AppStub(url))
            scheduler.add_shared_job(lambda name=name: runs.__setitem__(name, runs[name] + 1), "interval", seconds=0.1)
            cleanup.callback(scheduler.shutdown)
            schedulers[name] = scheduler
        schedulers["first"].start()
        wait_until(lambda: runs["first"] >= 2, "the first scheduler to run its job")
        schedulers["second"].start()
        wait_until(lambda: schedulers["second"].status() == "standby", "the second scheduler to stand by")
        before = runs["first"]
        wait_until(lambda: runs["first"] >= before + 3, "the first scheduler to keep running")
        assert runs["second"] == 0 and schedulers["second"].status() == "standby"
        schedulers["first"].shutdown(wait=True)
        wait_until(lambda: runs["second"] >= 2, "the standby to take over")
        assert schedulers["second"].status() == "running" and schedulers["first"].status() == "stopped"


# --- real processes -------------------------------------------------------------------------------


def test_two_schedulers_on_one_sqlite_file_one_waits_and_takes_over_after_sigkill(tmp_path):
    url = f"sqlite:///{tmp_path / 'cc.db'}"
    prepare_database(url, with_demo=False)
    env = environment(url, tmp_path)
    first = AppProcess("scheduler-1", ["app.py", "scheduler"], env, tmp_path)
    second = everything = None
    try:
        first.wait_for("took over the scheduler lock")
        second = AppProcess("scheduler-2", ["app.py", "scheduler"], env, tmp_path)
        second.wait_for("waiting for the scheduler lock")
        assert f"held by {socket.gethostname()}:{first.pid}" in second.text()
        holder_keeps_running(first)
        assert shared_job_runs(second.text()) == 0

        first.kill()
        second.wait_for("took over the scheduler lock")
        standby_part = second.text().split("took over the scheduler lock")[0]
        assert shared_job_runs(standby_part) == 0, "the standby ran a shared job before it held the lock"

        # The new holder scans the drop folder: a file lands once. (No demo data: the records are
        # quarantined, which still proves the file was processed exactly once.)
        drop_file(tmp_path / "dropbox", "appeals_sqlite.json", [appeal("MP-SQLITE-1", "mpsqlite")])
        wait_until(lambda: ingested_reports(tmp_path / "dropbox", "appeals_sqlite.json"), "the drop file to land")
        runs_after = shared_job_runs(second.text())
        wait_until(lambda: shared_job_runs(second.text()) >= runs_after + 2, "two more scans", on_timeout=second.tail)
        assert len(ingested_reports(tmp_path / "dropbox", "appeals_sqlite.json")) == 1
        assert not list((tmp_path / "dropbox" / "incoming").iterdir())

        # `python app.py` alone serves everything and contends for the same lock: standby, then holder.
        port = free_port()
        everything = AppProcess("all-in-one", ["app.py"], {**env, "CC_PORT": str(port)}, tmp_path)
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _healthz(base), "python app.py to serve", on_timeout=everything.tail)
        everything.wait_for("waiting for the scheduler lock")
        health = _healthz(base)
        assert health["scheduler"] == "standby", health
        assert health["scheduler_lock"]["holder"] == f"{socket.gethostname()}:{second.pid}"
        second.kill()
        everything.wait_for("took over the scheduler lock")
        health = _healthz(base)
        assert health["scheduler"] == "running" and health["scheduler_lock"]["held_here"] is True, health
    finally:
        for process in (first, second, everything):
            if process is not None:
                process.stop()


def test_push_crosses_web_processes_and_a_standby_scheduler_takes_over(tmp_path):
    """Two web processes, one scheduler and a standby, on PostgreSQL and Redis (issue 8's CI test)."""
    require_redis()
    import redis

    queue = redis.Redis.from_url(REDIS_URL)
    with fresh_postgres_schema() as url:
        api_key = prepare_database(url, with_demo=True)
        db.engine.dispose()
        env = environment(url, tmp_path, CC_REDIS_URL=REDIS_URL)
        ports = {"web-a": free_port(), "web-b": free_port()}
        processes: list[AppProcess] = []
        wall = None
        try:
            for name, port in ports.items():
                args = ["app.py", "serve", "--no-scheduler", "--port", str(port)]
                processes.append(AppProcess(name, args, env, tmp_path))
            scheduler_1 = AppProcess("scheduler-1", ["app.py", "scheduler"], env, tmp_path)
            processes.append(scheduler_1)
            scheduler_1.wait_for("took over the scheduler lock")
            scheduler_2 = AppProcess("scheduler-2", ["app.py", "scheduler"], env, tmp_path)
            processes.append(scheduler_2)
            scheduler_2.wait_for("waiting for the scheduler lock")
            web_a, web_b = (f"http://127.0.0.1:{port}" for port in ports.values())
            for process, base in zip(processes[:2], (web_a, web_b), strict=True):
                process.wait_for("serving on")
                health = wait_until(
                    lambda base=base: _healthz(base), f"{process.name} /healthz", on_timeout=process.tail
                )
                assert health["scheduler"] == "disabled"
                assert health["scheduler_lock"]["holder"] == f"{socket.gethostname()}:{scheduler_1.pid}"

            # A wall on B; B listens on the queue once it has a client.
            subscribers = queue.pubsub_numsub(SOCKETIO_CHANNEL)[0][1]
            wall = WallClient(web_b, "510107")
            wait_until(
                lambda: queue.pubsub_numsub(SOCKETIO_CHANNEL)[0][1] > subscribers, "web B to subscribe to the queue"
            )
            response = requests.post(
                f"{web_a}/api/v1/appeals",
                json=[appeal("MP-API-1", "mpviaapi")],
                headers={"X-API-Key": api_key},
                timeout=30,
            )
            assert response.status_code == 200 and response.json()["created"] == 1, response.text
            received = wait_until(
                lambda: wall.with_text("mpviaapi"), "the delta on web B", on_timeout=processes[1].tail
            )
            assert received[0]["change"] == "created" and received[0]["region_code"] == "510107001001001"

            # The holder produced yesterday's export at take-over; wait until it has finished.
            yesterday = (dt.datetime.now(dt.UTC).astimezone(_shanghai()).date()) - dt.timedelta(days=1)
            claim = wait_until(lambda: _finished_export(yesterday), "the take-over export", on_timeout=scheduler_1.tail)
            assert claim.holder == f"{socket.gethostname()}:{scheduler_1.pid}"
            holder_keeps_running(scheduler_1)
            assert shared_job_runs(scheduler_2.text()) == 0

            scheduler_1.kill()
            scheduler_2.wait_for("took over the scheduler lock")
            standby_part = scheduler_2.text().split("took over the scheduler lock")[0]
            assert shared_job_runs(standby_part) == 0, "the standby ran a shared job before it held the lock"
            assert f"held by {socket.gethostname()}:{scheduler_1.pid}" in standby_part
            health = _healthz(web_a)
            assert health["scheduler_lock"]["holder"] == f"{socket.gethostname()}:{scheduler_2.pid}"

            # The new holder ingests a dropped file once, and its appeals reach the wall on B
            # through the queue (pushed from the scheduler process, which serves no sockets).
            records = [appeal("MP-DROP-1", "mpviadrop"), appeal("MP-DROP-2", "mpviadrop")]
            drop_file(tmp_path / "dropbox", "appeals_takeover.json", records)
            reports = wait_until(
                lambda: ingested_reports(tmp_path / "dropbox", "appeals_takeover.json"),
                "the dropped file to land",
                on_timeout=scheduler_2.tail,
            )
            assert reports[0]["created"] == 2, reports
            runs_after = shared_job_runs(scheduler_2.text())
            wait_until(lambda: shared_job_runs(scheduler_2.text()) >= runs_after + 2, "two more scans")
            assert len(ingested_reports(tmp_path / "dropbox", "appeals_takeover.json")) == 1
            wait_until(lambda: len(wall.with_text("mpviadrop")) == 2, "the dropped appeals on web B")

            # Catching up at take-over found yesterday done: it was not produced twice.
            assert "KPI exports produced" not in scheduler_2.text()
            with db.session() as session:
                claims = session.scalars(select(DailyExport)).all()
                assert [(c.day, c.holder) for c in claims] == [(yesterday, claim.holder)]
                count = session.scalar(select(func.count()).select_from(Appeal).where(Appeal.external_id.like("MP-%")))
                assert count == 3
            assert len(wall.with_text("mpviaapi")) == 1, "a change reaches a wall once"
        finally:
            if wall is not None:
                wall.close()
            for process in processes:
                process.stop()
            db.engine.dispose()


def test_the_documented_gunicorn_command_serves_websockets_and_push(tmp_path):
    """`gunicorn -w 1 --threads N wsgi:app` (threaded worker + simple-websocket) serves the wall's socket."""
    url = f"sqlite:///{tmp_path / 'cc.db'}"
    api_key = prepare_database(url, with_demo=True)
    db.engine.dispose()
    port = free_port()
    env = environment(url, tmp_path, CC_SCHEDULER_ENABLED="0")
    # As in deploy/command-center-web@.service, with fewer threads.
    args = ["-m", "gunicorn", "-w", "1", "--threads", "16", "--no-control-socket"]
    args += ["-b", f"127.0.0.1:{port}", "wsgi:app"]
    server = AppProcess("gunicorn", args, env, tmp_path)
    wall = None
    try:
        base = f"http://127.0.0.1:{port}"
        health = wait_until(lambda: _healthz(base), "gunicorn /healthz", on_timeout=server.tail)
        assert health["scheduler"] == "disabled"
        wall = WallClient(base, "510107")
        assert wall.client.transport() == "websocket"
        response = requests.post(
            f"{base}/api/v1/appeals", json=[appeal("GU-1", "mpgunicorn")], headers={"X-API-Key": api_key}, timeout=30
        )
        assert response.status_code == 200, response.text
        wait_until(lambda: wall.with_text("mpgunicorn"), "the delta over gunicorn's websocket", on_timeout=server.tail)
    finally:
        if wall is not None:
            wall.close()
        server.stop()


def _healthz(base: str) -> dict | None:
    try:
        response = requests.get(f"{base}/healthz", timeout=5)
    except requests.RequestException:
        return None
    return response.json() if response.status_code == 200 else None


def _shanghai():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")


def _finished_export(day: dt.date) -> DailyExport | None:
    """The day's export claim once it is finished (db is bound to the deployment's database)."""
    with db.session() as session:
        claim = session.get(DailyExport, day)
        return claim if claim is not None and claim.finished_at is not None else None
