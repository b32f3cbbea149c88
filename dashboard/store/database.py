"""The database extension: an engine and a session factory, bound to an app with init_app."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
    """Holds the engine and session factory; created unbound, bound by init_app or bind."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None

    def init_app(self, app) -> None:
        """Bind to a Flask app using its DATABASE_URL."""
        self.bind(app.config["DATABASE_URL"])
        app.extensions["database"] = self

    def bind(self, url: str) -> Database:
        """Bind to a database URL outside of Flask (CLI, scheduler, benchmarks)."""
        if self.engine is not None:
            self.engine.dispose()
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        return self

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
