"""Initial loads: a file that dwarfs the appeals table is written with the table's secondary indexes deferred.

Keeping five secondary B-trees up to date row by row costs more than building each once over
the loaded table, which is a single sort; on PostgreSQL each foreign key is also checked per row
by a trigger that looks the parent row up, where adding the constraint afterwards checks all rows
in one join. Both are PostgreSQL's "Populating a Database" advice (SQLite checks its foreign
keys inline at no measurable cost, so there only the indexes are deferred). While they are away
readers of appeals scan the table, so this is only for loads that at least double what is stored
and hold LOAD_MIN_RECORDS or more: an initial migration from an old system, never the daily
feeds. The unique (source, external_id) key stays: idempotency looks records up by it.

Crash safety and concurrency: a load holds a lock for its whole length (a PostgreSQL advisory
lock, or a file lock next to the SQLite database), so only one load defers at a time and
nothing rebuilds its indexes under it. It drops them (on PostgreSQL in one transaction that
gives up after LOCK_TIMEOUT rather than stall the dashboard behind a long read; the load then
keeps its indexes) and builds them again from the models, which hold the same definitions and
names as the migrations, each in its own transaction; foreign keys are added NOT VALID and
then validated, which does not block writers. A process killed in between leaves them missing
and its lock free: restore() builds whatever is missing unless a load holds the lock. It runs
before every file is ingested and after `db upgrade` and the CLI's own migration, and /healthz
reports what is missing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, ForeignKeyConstraint, Index, func, inspect, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.schema import AddConstraint, DropConstraint

from dashboard.services.ingest.readers import format_of
from dashboard.store.locks import SchedulerLock, lock_for
from dashboard.store.models import Appeal, Transition

log = logging.getLogger(__name__)

LOAD_MIN_RECORDS = 100_000
# Conservative: feed records are a few hundred bytes; guessing too few records only means the
# indexes are kept.
MAX_BYTES_PER_RECORD = 1024
# Records per transaction in a bulk load: fewer commits, each of which may checkpoint SQLite's
# WAL. A load killed mid-way loses at most one batch, which delivering the file again completes.
BATCH_SIZE = 20_000
LOCK_NAME = "cc-bulk-load"
LOCK_TIMEOUT = "5s"
# Bytes sampled to estimate a file's records from its lines (one per record in CSV and NDJSON).
SAMPLE_BYTES = 2**20
_TABLES = (Appeal.__table__, Transition.__table__)


def deferrable_indexes() -> list[Index]:
    """The appeals table's non-unique indexes, as the models declare them."""
    return sorted((index for index in Appeal.__table__.indexes if not index.unique), key=lambda index: index.name)


def deferrable_foreign_keys(dialect: str) -> list[ForeignKeyConstraint]:
    """The foreign keys of appeals and transitions, on PostgreSQL (none on SQLite)."""
    if dialect != "postgresql":
        return []
    return sorted((fk for table in _TABLES for fk in table.foreign_key_constraints), key=lambda fk: fk.name)


def missing(engine: Engine) -> list[str]:
    """Names of deferrable indexes and foreign keys the database does not have."""
    inspector = inspect(engine)
    present = {index["name"] for index in inspector.get_indexes(Appeal.__tablename__)}
    for table in _TABLES:
        present.update(fk["name"] for fk in inspector.get_foreign_keys(table.name))
    wanted = [*deferrable_indexes(), *deferrable_foreign_keys(engine.dialect.name)]
    return [item.name for item in wanted if item.name not in present]


def restore(engine: Engine) -> list[str]:
    """Build any deferrable index or foreign key that is missing (after a load was killed); returns their names.

    Does nothing while a load holds the lock: that load builds them when it ends.
    """
    lock = _lock(engine)
    try:
        if not lock.acquire():
            return []
        absent = missing(engine)
        if absent:
            log.warning("appeals indexes or keys missing (a bulk load did not finish): building %s", ", ".join(absent))
            _build(engine, set(absent))
        return absent
    finally:
        lock.release()


def estimated_records(path: Path) -> int:
    """About how many records a file holds: its lines scaled from a sample, or its size at MAX_BYTES_PER_RECORD."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    lines = sample.count(b"\n")
    if format_of(path) in ("csv", "ndjson") and lines >= 100:
        return int(size * lines / len(sample))
    return size // MAX_BYTES_PER_RECORD


def worth_deferring(engine: Engine, path: Path) -> bool:
    """True when the file holds at least LOAD_MIN_RECORDS appeals and at least as many as are stored."""
    expected = estimated_records(path)
    if expected < LOAD_MIN_RECORDS:
        return False
    with engine.connect() as connection:
        # max(id) rather than count(*): one index probe instead of a scan, and never fewer.
        stored = connection.execute(select(func.max(Appeal.id))).scalar() or 0
    return expected >= stored


@contextmanager
def indexes_deferred(engine: Engine, enabled: bool = True) -> Iterator[None]:
    """Drop the deferrable indexes and keys for the block and build them after it (also when it fails).

    Keeps them when another load holds the lock or PostgreSQL cannot lock the tables in time.
    """
    if not enabled:
        yield
        return
    lock = _lock(engine)
    try:
        deferred = lock.acquire() and _drop(engine)
        if not lock.held:
            log.info("bulk load: another load is running; this one keeps the appeals indexes")
        if deferred:
            log.info("bulk load: appeals indexes and keys deferred")
        try:
            yield
        finally:
            if deferred:
                started = time.perf_counter()
                _build(engine, set(missing(engine)))
                log.info("bulk load: appeals indexes and keys built in %.1f s", time.perf_counter() - started)
    finally:
        lock.release()


def _lock(engine: Engine) -> SchedulerLock:
    return lock_for(engine.url.render_as_string(hide_password=False), LOCK_NAME)


def _drop(engine: Engine) -> bool:
    """Drop what is present; False (nothing dropped) when PostgreSQL cannot take the locks within LOCK_TIMEOUT."""
    absent = set(missing(engine))
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            for fk in deferrable_foreign_keys(connection.dialect.name):
                if fk.name not in absent:
                    connection.execute(DropConstraint(fk, isolate_from_table=False))
            for index in deferrable_indexes():
                if index.name not in absent:
                    index.drop(connection)
    except OperationalError as exc:
        log.warning("bulk load: could not lock appeals in time (%s); keeping its indexes", exc.orig)
        return False
    return True


def _build(engine: Engine, names: set[str]) -> None:
    # One transaction per index or key: a failure keeps what was built, and restore() finishes.
    for index in deferrable_indexes():
        if index.name in names:
            with engine.begin() as connection:
                _sort_in_memory(connection)
                index.create(connection, checkfirst=True)
    for fk in deferrable_foreign_keys(engine.dialect.name):
        if fk.name in names:
            with engine.begin() as connection:
                _sort_in_memory(connection)
                added = AddConstraint(fk, isolate_from_table=False).compile(dialect=connection.dialect)
                # NOT VALID, then VALIDATE: checking the rows does not block writers.
                connection.exec_driver_sql(f"{added} NOT VALID")
                connection.exec_driver_sql(f"ALTER TABLE {fk.table.name} VALIDATE CONSTRAINT {fk.name}")


def _sort_in_memory(connection: Connection) -> None:
    # Index builds and key checks sort or hash the whole table: in memory, not temporary files.
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
        connection.exec_driver_sql("SET LOCAL work_mem = '256MB'")
    else:
        connection.exec_driver_sql("PRAGMA cache_size = -262144")
