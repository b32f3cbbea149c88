"""The scheduler lock: exactly one process runs the scheduled jobs; the others wait and take over.

On PostgreSQL the lock is a session-level advisory lock (pg_try_advisory_lock) held on a
dedicated connection for the life of the process: when the holder dies its connection
closes and the server releases the lock. On SQLite it is an exclusive flock() on a file
next to the database file, which the kernel releases when the holder's process ends, even
after SIGKILL. Either way a waiting process only has to try again now and then.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import socket
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from sqlalchemy import Connection, create_engine, make_url, text
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)
LOCK_NAME = "cc-scheduler"


def process_name() -> str:
    """This process as operators see it in logs, pg_stat_activity and the lock file: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


class SchedulerLock(ABC):
    """A lock that at most one process holds; acquire() never waits."""

    kind = "lock"

    def __init__(self) -> None:
        self.held = False

    @abstractmethod
    def acquire(self) -> bool:
        """Try once; True when this process holds the lock now (raises when the store is unreachable)."""

    @abstractmethod
    def check(self) -> bool:
        """True while this process still holds the lock (its connection or file is intact)."""

    @abstractmethod
    def release(self) -> None:
        """Give the lock up (a no-op when not held)."""

    @abstractmethod
    def holder(self) -> str | None:
        """Who holds the lock, when that can be told; None when nobody (or unknown)."""

    @abstractmethod
    def describe(self) -> str:
        """What the lock is, for logs and /healthz."""


def _advisory_key(database: str, schema: str, name: str = LOCK_NAME) -> int:
    """A non-negative 63-bit key per lock name, database and schema, so that deployments sharing a server stay apart."""
    digest = hashlib.sha256(f"{name}:{database}:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF


# pg_locks shows a bigint advisory key as classid (high 32 bits) and objid (low 32 bits), objsubid 1.
_THIS_LOCK = (
    "l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
    "AND l.classid = CAST(:high AS oid) AND l.objid = CAST(:low AS oid) "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
_HOLDER_SQL = text(
    f"SELECT a.application_name, l.pid FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid WHERE {_THIS_LOCK}"
)
_MINE_SQL = text(f"SELECT count(*) FROM pg_locks l WHERE {_THIS_LOCK} AND l.pid = pg_backend_pid()")
_KEY_SQL = text("SELECT current_database(), current_schema()")


class PostgresAdvisoryLock(SchedulerLock):
    """pg_try_advisory_lock on a dedicated autocommit connection kept open for the process lifetime."""

    kind = "postgresql advisory lock"

    def __init__(self, url: str, name: str = LOCK_NAME) -> None:
        super().__init__()
        self.url = url
        self.name = name
        self.key: int | None = None
        self._connection: Connection | None = None
        self._engine = create_engine(
            url,
            poolclass=NullPool,  # never shared with the app's pool, never recycled under us
            isolation_level="AUTOCOMMIT",  # the lock is session-level; no transaction stays open
            hide_parameters=True,
            connect_args={"application_name": f"{name} {process_name()}"[:63], "connect_timeout": 10},
        )

    def _connect(self) -> Connection:
        if self._connection is None or self._connection.closed:
            connection = self._engine.connect()
            # The server notices a vanished holder (host down, cable cut) within ~25 s instead of
            # the OS default of two hours, and never drops the lock connection for idling.
            for setting in (
                "SET tcp_keepalives_idle = 10",
                "SET tcp_keepalives_interval = 5",
                "SET tcp_keepalives_count = 3",
                "SET idle_session_timeout = 0",  # PostgreSQL 14+; older servers have no such timeout
            ):
                try:
                    connection.execute(text(setting))
                except Exception:
                    log.debug("%s: not supported by this server", setting)
            self._key_from(connection)
            self._connection = connection
        return self._connection

    def _key_from(self, connection: Connection) -> int:
        if self.key is None:
            database, schema = connection.execute(_KEY_SQL).one()
            self.key = _advisory_key(database, schema or "public", self.name)
        return self.key

    def _key_params(self) -> dict[str, int]:
        return {"high": self.key >> 32, "low": self.key & 0xFFFF_FFFF}

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        self.held = False
        if connection is not None:
            try:
                connection.close()
            except Exception:  # already broken: closing it is all that was wanted
                log.debug("closing the scheduler lock connection failed", exc_info=True)

    def acquire(self) -> bool:
        """Try pg_try_advisory_lock once on the dedicated connection."""
        if self.held:  # the lock counts re-entries; taking it twice would need two unlocks
            return True
        try:
            connection = self._connect()
            self.held = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar())
        except Exception:
            self._drop_connection()
            raise
        return self.held

    def check(self) -> bool:
        """The lock is ours while pg_locks shows it granted to our own backend."""
        if not self.held or self._connection is None:
            return False
        try:
            return bool(self._connection.execute(_MINE_SQL, self._key_params()).scalar())
        except Exception:
            log.warning("the scheduler lock connection failed", exc_info=True)
            self._drop_connection()
            return False

    def release(self) -> None:
        """Unlock and close the dedicated connection (closing alone would release it too)."""
        if self.held and self._connection is not None:
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            except Exception:
                log.debug("pg_advisory_unlock failed; closing the connection releases the lock", exc_info=True)
        self._drop_connection()

    def holder(self) -> str | None:
        """The application_name (cc-scheduler host:pid) of the session holding the lock."""
        if self.held:
            return process_name()
        try:
            with self._engine.connect() as connection:
                self._key_from(connection)
                row = connection.execute(_HOLDER_SQL, self._key_params()).first()
        except Exception:
            return None
        if row is None:
            return None
        return (row[0] or f"backend pid {row[1]}").removeprefix(f"{self.name} ")

    def describe(self) -> str:
        """Names the key, so an operator can find it in pg_locks."""
        return f"{self.kind} {self.key}" if self.key is not None else self.kind


class FileLock(SchedulerLock):
    """An exclusive, non-blocking flock() on a file; the holder writes host:pid into it."""

    kind = "file lock"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Try flock(LOCK_EX | LOCK_NB) once."""
        if self.held:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by child processes (PEP 446)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{process_name()}\n".encode())
        self._fd = fd
        self.held = True
        return True

    def check(self) -> bool:
        """Held while our descriptor is open and the file at the path is still the one we locked."""
        if not self.held or self._fd is None:
            return False
        try:
            return os.fstat(self._fd).st_ino == os.stat(self.path).st_ino
        except OSError:
            return False

    def release(self) -> None:
        """Close the descriptor; the file stays (deleting it would let two processes lock two files)."""
        fd, self._fd = self._fd, None
        self.held = False
        if fd is not None:
            os.close(fd)

    def holder(self) -> str | None:
        """host:pid written by the holder, when someone holds the lock."""
        if self.held:
            return process_name()
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:  # someone holds it: the name they wrote is current
                return os.read(fd, 200).decode(errors="replace").strip() or "another process"
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def describe(self) -> str:
        """Names the file."""
        return f"{self.kind} {self.path}"


class ProcessLock(SchedulerLock):
    """For an in-memory database, which no other process can share: a lock within this process."""

    kind = "process lock"
    _locks: ClassVar[dict[str, threading.Lock]] = {}  # one per lock name, shared by every instance

    def __init__(self, name: str = LOCK_NAME) -> None:
        super().__init__()
        self._lock = self._locks.setdefault(name, threading.Lock())

    def acquire(self) -> bool:
        """Take the in-process lock without waiting."""
        if not self.held:
            self.held = self._lock.acquire(blocking=False)
        return self.held

    def check(self) -> bool:
        """Held until released."""
        return self.held

    def release(self) -> None:
        """Give the in-process lock back."""
        if self.held:
            self.held = False
            self._lock.release()

    def holder(self) -> str | None:
        """This process, when held here."""
        return process_name() if self.held else None

    def describe(self) -> str:
        """In-memory database: the lock is only within this process."""
        return f"{self.kind} (in-memory database)"


def lock_for(database_url: str, name: str = LOCK_NAME) -> SchedulerLock:
    """A named lock for a database (the scheduler's by default): advisory on PostgreSQL, a file beside SQLite's."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        return PostgresAdvisoryLock(database_url, name)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        suffix = "scheduler" if name == LOCK_NAME else name.removeprefix("cc-")
        return FileLock(Path(f"{url.database}.{suffix}.lock").resolve())
    return ProcessLock(name)


def lock_appeal(session, appeal_id: int):
    """The appeal, read afresh with its row locked for this transaction (None if it does not exist).

    PostgreSQL: SELECT … FOR UPDATE. SQLite has no row locks: a no-op write makes the transaction
    the database's one writer first, so a second caller waits here and then reads the first one's
    committed state instead of acting on a stale one.
    """
    from sqlalchemy import update

    from dashboard.store.models import Appeal

    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(Appeal)
            .where(Appeal.id == appeal_id)
            .values(version=Appeal.version, updated_at=Appeal.updated_at)
            .execution_options(synchronize_session=False)
        )
    return session.get(Appeal, appeal_id, with_for_update=True, populate_existing=True)
