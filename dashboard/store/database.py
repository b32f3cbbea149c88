"""The database: an engine and a session factory per app, and `db`, which finds the current app's.

`Database` is one binding (engine + sessions) with the store's hooks installed on its own
session factory (the KPI counters follow every ORM change to an appeal). `db` is the
extension the app factory binds with init_app: inside an app's context it is that app's
Database, so two apps in one process never share an engine or a hook; outside any app context
(the CLI, scripts, tests) it is the Database bound last.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, has_app_context
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and enforced foreign keys."""
    kwargs.setdefault("hide_parameters", True)  # errors must not log residents' names or phones
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


class Database:
    """One binding to a database: its engine and its session factory, with the store's hooks installed."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None

    def bind(self, url: str) -> Database:
        """Bind to a database URL outside of Flask (CLI, scheduler, benchmarks)."""
        if self.engine is not None:
            self.engine.dispose()
        from dashboard.store import counters  # the counters' module needs the models, which need this one

        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        counters.install_hooks(self._sessions)
        return self

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The session factory (a target for Session events that concern only this database)."""
        if self._sessions is None:
            raise RuntimeError("database is not bound: call init_app() or bind() first")
        return self._sessions

    @property
    def is_sqlite(self) -> bool:
        """True when bound to SQLite."""
        return self.engine is not None and self.engine.dialect.name == "sqlite"

    def session(self) -> Session:
        """A new session; the caller closes it (use it as a context manager)."""
        if self._sessions is None:
            raise RuntimeError("database is not bound: call init_app() or bind() first")
        return self._sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with self.session() as session, session.begin():
            yield session

    def ping(self) -> str:
        """Return 'ok' or the error text, for /healthz."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return "ok"
        except Exception as exc:
            return f"error: {exc.__class__.__name__}: {exc}"[:300]


class AppDatabase:
    """The `db` extension: the current app's Database, or outside any app context the one bound last."""

    def __init__(self) -> None:
        self._fallback: Database | None = None

    def init_app(self, app) -> None:
        """Give the app a Database of its own, bound to its DATABASE_URL (app.extensions["database"])."""
        own = Database().bind(app.config["DATABASE_URL"])
        app.extensions["database"] = own
        self._set_fallback(own)

    def bind(self, url: str) -> AppDatabase:
        """Bind outside of Flask (CLI, scheduler process, benchmarks)."""
        self._set_fallback(Database().bind(url))
        return self

    def _set_fallback(self, database: Database) -> None:
        if self._fallback is not None and self._fallback.engine is not None:
            self._fallback.engine.dispose()  # closes idle connections only; an older app reconnects on use
        self._fallback = database

    def current(self) -> Database:
        """The Database this call should use."""
        if has_app_context():
            own = current_app.extensions.get("database")
            if own is not None:
                return own
        if self._fallback is None:
            raise RuntimeError("database is not bound: call init_app() or bind() first")
        return self._fallback

    @property
    def engine(self) -> Engine:
        """The current Database's engine."""
        return self.current().engine

    @property
    def is_sqlite(self) -> bool:
        """True when the current Database is SQLite."""
        return self.current().is_sqlite

    def session(self) -> Session:
        """A new session of the current Database (use it as a context manager)."""
        return self.current().session()

    def transaction(self):
        """A session of the current Database that commits on success and rolls back on error."""
        return self.current().transaction()

    def ping(self) -> str:
        """The current Database's ping."""
        return self.current().ping()


db = AppDatabase()
