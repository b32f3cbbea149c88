"""Fixtures: app/client/runner (Flask tutorial style), run against SQLite and PostgreSQL.

PostgreSQL tests skip when no server answers, unless CC_REQUIRE_SERVICES=1 (set by .ci/run),
which turns that skip into a failure.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from dashboard import create_app
from dashboard.config import normalise_database_url
from dashboard.store import migrate
from dashboard.store.database import db

POSTGRES_URL = normalise_database_url(
    os.environ.get("CC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
)
REQUIRE_SERVICES = os.environ.get("CC_REQUIRE_SERVICES") == "1"
BACKENDS = ["sqlite", "postgresql"]


def _postgres_available() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:
        return f"{exc.__class__.__name__}: {exc}"


_POSTGRES_PROBLEM: str | bool | None = False


def require_postgres() -> None:
    """Skip (or, in CI, fail) when PostgreSQL is not reachable."""
    global _POSTGRES_PROBLEM
    if _POSTGRES_PROBLEM is False:
        _POSTGRES_PROBLEM = _postgres_available()
    if _POSTGRES_PROBLEM:
        message = f"PostgreSQL at {POSTGRES_URL} is not reachable ({_POSTGRES_PROBLEM})"
        if REQUIRE_SERVICES:
            pytest.fail(message + "; CC_REQUIRE_SERVICES=1 forbids skipping")
        pytest.skip(message)


REDIS_URL = os.environ.get("CC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def private_calendar_file(directory) -> str:
    """A copy of the holiday override file in directory: an admin's calendar save in a test
    (or a fuzzed one) writes there, never to the repository's data/calendar/overrides.toml."""
    import shutil
    from pathlib import Path

    from dashboard.config import DATA_DIR

    target = Path(directory) / "calendar_overrides.toml"
    if not target.exists():
        shutil.copyfile(DATA_DIR / "calendar" / "overrides.toml", target)
    return str(target)


def require_redis() -> None:
    """Skip (or, in CI, fail) when Redis is not reachable."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        message = f"Redis at {REDIS_URL} is not reachable ({exc})"
        if REQUIRE_SERVICES:
            pytest.fail(message + "; CC_REQUIRE_SERVICES=1 forbids skipping")
        pytest.skip(message)


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A URL whose search_path is a fresh, empty schema, dropped afterwards."""
    with fresh_postgres_schema() as url:
        yield url


@contextmanager
def fresh_postgres_schema() -> Iterator[str]:
    """A URL whose search_path is a fresh, empty schema, dropped on exit."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def empty_database_url(request, tmp_path) -> str:
    """An empty database (no tables) on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("postgres_schema_url")


@pytest.fixture
def database_url(empty_database_url) -> str:
    """A database migrated to head, on each backend."""
    migrate.upgrade(empty_database_url)
    return empty_database_url


@pytest.fixture
def app(database_url, tmp_path):
    """The app on a migrated, empty database, with the scheduler off."""
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "SCHEDULER_ENABLED": False,
            "DEMO_MODE": True,  # the demo wall is open; tests of tokens turn it off
            "EXPORT_DIR": str(tmp_path / "exports"),
            "CALENDAR_OVERRIDE_FILE": private_calendar_file(tmp_path),
        }
    )
    yield app
    db.engine.dispose()


@pytest.fixture
def make_hardened_app(database_url, tmp_path):
    """Builds apps as in production (demo mode off) on the migrated test database; call with overrides."""

    def make(**overrides):
        config = {
            "DATABASE_URL": database_url,
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "SCHEDULER_ENABLED": False,
            "EXPORT_DIR": str(tmp_path / "exports"),
            "CALENDAR_OVERRIDE_FILE": private_calendar_file(tmp_path),
        }
        return create_app({**config, **overrides})

    yield make
    db.engine.dispose()


@pytest.fixture
def client(app):
    """A test client for the app."""
    return app.test_client()


@pytest.fixture
def runner(database_url, monkeypatch):
    """Invokes `python app.py …` commands against the test database."""
    from dashboard.cli import cli

    monkeypatch.setenv("CC_DATABASE_URL", database_url)
    monkeypatch.setenv("CC_SECRET_KEY", "test-secret-key")
    monkeypatch.setenv("CC_SCHEDULER_ENABLED", "0")

    class Runner:
        def invoke(self, *args, **kwargs):
            return CliRunner().invoke(cli, list(args), catch_exceptions=False, **kwargs)

    return Runner()


DEMO_END = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def demo_app(app):
    """The app with tiny-scale demo data (1 street, 3 communities, 9 compounds) ending at DEMO_END."""
    from dashboard.services import demo

    demo.generate(
        db,
        app.extensions["work_calendar"],
        app.extensions["sla_policy"],
        app.config["SECRET_KEY"],
        scale="tiny",
        seed=11,
        end=DEMO_END,
        progress=lambda _line: None,
    )
    return app


@pytest.fixture
def api_key(app) -> str:
    """A valid API key for the hotline feed."""
    from dashboard.domain.credentials import hash_api_key, new_api_key
    from dashboard.domain.vocab import Channel
    from dashboard.store.models import ApiKey

    key = new_api_key()
    with db.transaction() as session:
        session.add(ApiKey(name="test-feed", key_hash=hash_api_key(key), source=Channel.HOTLINE_12345))
    return key
