"""A large import killed with SIGKILL mid-way, then restarted, ends exactly like one clean import."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bench.feedfiles import write_appeals_csv
from dashboard.config import ROOT
from dashboard.services.ingest import bulkload
from tests.conftest import fresh_postgres_schema

ROWS = 60_000
COMPOUNDS = ["510107001001001", "510107001001002", "510107001002001", "510107001003001"]


def _cli(url: str, *args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "CC_DATABASE_URL": url, "CC_SECRET_KEY": "crash-test", "CC_SCHEDULER_ENABLED": "0"}
    return subprocess.Popen(
        [sys.executable, "app.py", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs
    )


def _run(url: str, *args: str) -> str:
    process = _cli(url, *args)
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output.decode()
    return output.decode()


def _count(url: str, sql: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        value = connection.execute(text(sql)).scalar()
    engine.dispose()
    return value


def _content(url: str) -> dict:
    engine = create_engine(url)
    with engine.connect() as connection:
        appeals = connection.execute(
            text(
                "SELECT source, external_id, category, priority, status, region_code, reported_at, deadline_at "
                "FROM appeals WHERE external_id LIKE 'K%' ORDER BY source, external_id"
            )
        ).all()
        transitions = connection.execute(
            text(
                "SELECT a.external_id, t.seq, t.action, t.at FROM transitions t JOIN appeals a ON a.id = t.appeal_id "
                "WHERE a.external_id LIKE 'K%' ORDER BY a.external_id, t.seq"
            )
        ).all()
        quarantine = connection.execute(
            text("SELECT location, field, reason FROM quarantined_records ORDER BY location")
        ).all()
    engine.dispose()
    return {"appeals": appeals, "transitions": transitions, "quarantine": quarantine}


def _feed(tmp_path: Path) -> Path:
    path = write_appeals_csv(tmp_path / "appeals_crash.csv", ROWS, COMPOUNDS, dt.datetime(2026, 11, 20), prefix="K")
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    # Every 997th record points at a region that does not exist: it must be quarantined exactly once.
    for index in range(997, len(lines), 997):
        lines[index] = lines[index].replace("510107001", "510107009", 1)
    path.write_text("".join(lines), encoding="utf-8")
    return path


@contextlib.contextmanager
def _databases(empty_database_url: str, tmp_path: Path):
    if empty_database_url.startswith("sqlite"):
        yield empty_database_url, f"sqlite:///{tmp_path / 'clean.db'}"
    else:
        with fresh_postgres_schema() as clean:
            yield empty_database_url, clean


def _readers_of(pid: int) -> list[int]:
    """The reader processes (dashboard.services.ingest.pipeline) the import `pid` started: its children."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    return [int(child) for child in children if _is_reader(int(child))]


def _is_reader(pid: int) -> bool:
    """Alive (not a zombie) and running the pipeline's reader module."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z" and b"dashboard.services.ingest.pipeline" in command


def _live_readers(readers: list[int]) -> list[int]:
    """Those of `readers` still alive: none may outlive a killed import."""
    return [pid for pid in readers if _is_reader(pid)]


def _indexes(url: str) -> list[str]:
    engine = create_engine(url)
    missing = bulkload.missing(engine)
    engine.dispose()
    return missing


MODES = [("--no-pipeline", "--no-initial-load"), ("--pipeline", "--no-initial-load"), ("--pipeline", "--initial-load")]


@pytest.mark.parametrize("mode", MODES)
def test_sigkill_mid_import_then_restart_equals_a_clean_import(empty_database_url, tmp_path, mode):
    feed = _feed(tmp_path)
    with _databases(empty_database_url, tmp_path) as (crashed, clean):
        for url in (crashed, clean):
            _run(url, "demo", "--scale", "tiny", "--end", "2026-11-20T12:00:00+08:00")
        _run(clean, "ingest", "--no-pipeline", str(feed))

        process = _cli(crashed, "ingest", *mode, str(feed))
        deadline = time.monotonic() + 300
        landed = 0
        while time.monotonic() < deadline:
            landed = _count(crashed, "SELECT count(*) FROM appeals WHERE external_id LIKE 'K%'")
            if landed >= 10_000 or process.poll() is not None:
                break
            time.sleep(0.05)
        assert process.poll() is None, "the import finished before it could be killed; make the file larger"
        readers = _readers_of(process.pid)  # this import's own, not any other on the machine
        assert bool(readers) == ("--pipeline" in mode)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        give_up = time.monotonic() + 10
        while _live_readers(readers) and time.monotonic() < give_up:
            time.sleep(0.1)
        assert not _live_readers(readers), "the reader process outlived the killed import"
        assert 0 < landed < ROWS
        partial = _count(crashed, "SELECT count(*) FROM appeals WHERE external_id LIKE 'K%'")
        assert partial < ROWS - ROWS // 997, "the kill came after the import was complete"
        # An initial load killed mid-way leaves the deferred indexes missing; the restart builds them.
        assert bool(_indexes(crashed)) == ("--initial-load" in mode)

        _run(crashed, "ingest", *mode, str(feed))
        assert _indexes(crashed) == []
        assert _content(crashed) == _content(clean)
        assert _count(crashed, "SELECT count(*) FROM quarantined_records") == (ROWS) // 997
