"""`python app.py init`: an empty production database with a first admin, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, inspect, select

from dashboard.cli import cli
from dashboard.domain.roles import Role
from dashboard.store import migrate
from dashboard.store.database import db
from dashboard.store.models import AuditLog, Base, Region, User

PASSWORD = "first admin's secret"


@pytest.fixture
def init_env(empty_database_url, monkeypatch):
    """The environment of a production host: an empty database, demo mode off, a secret key."""
    monkeypatch.setenv("CC_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("CC_SECRET_KEY", "init-test-secret")
    monkeypatch.setenv("CC_DEMO_MODE", "0")
    monkeypatch.setenv("CC_SCHEDULER_ENABLED", "0")
    yield empty_database_url
    with contextlib.suppress(RuntimeError):  # no app was built: nothing is bound
        db.engine.dispose()


def run_init(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["init", *args], input=input)


def tables_and_rows(url: str) -> dict[str, int]:
    """Every table of the database and how many rows it holds."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                name: connection.scalar(select(func.count()).select_from(Base.metadata.tables[name]))
                if name in Base.metadata.tables
                else -1
                for name in inspect(engine).get_table_names()
            }
    finally:
        engine.dispose()


def test_init_refuses_without_a_secret_key_and_touches_nothing(init_env, monkeypatch):
    monkeypatch.delenv("CC_SECRET_KEY")
    result = run_init("--admin-username", "boss", "--admin-password", PASSWORD)
    assert result.exit_code == 1
    assert "CC_SECRET_KEY must be set" in result.output and "secrets.token_hex(32)" in result.output
    assert tables_and_rows(init_env) == {}


def test_init_creates_the_schema_at_head_and_one_admin_and_nothing_else(init_env):
    result = run_init("--admin-username", "boss", "--admin-password", PASSWORD, "--admin-name", "总指挥")
    assert result.exit_code == 0, result.output
    assert "admin boss created" in result.output
    # The next steps, with the exact commands.
    for command in (
        "python app.py ingest regions_",
        "python app.py ingest departments_",
        "population_",
        "python app.py users add --username NAME --role supervisor --region CODE",
        "python app.py walltokens add --name",
        "python app.py apikeys add --name",
        "python app.py serve",
        "docs/DEPLOYMENT.md",
        "docs/ONBOARDING.md",
    ):
        assert command in result.output, command
    engine = create_engine(init_env)
    try:
        assert migrate.current_revision(engine) == migrate.head_revision(init_env)
    finally:
        engine.dispose()
    rows = tables_and_rows(init_env)
    assert set(Base.metadata.tables) <= set(rows)  # every table of the schema exists
    assert {name: count for name, count in rows.items() if count} == {"users": 1, "audit_log": 1, "alembic_version": -1}
    with db.session() as session:
        user = session.scalar(select(User))
        entry = session.scalar(select(AuditLog))
    assert (user.username, user.display_name, user.role, user.region_code, user.active) == (
        "boss",
        "总指挥",
        Role.ADMIN,
        None,
        True,
    )
    assert PASSWORD not in user.password_hash
    assert (entry.actor, entry.action, entry.target) == ("cli", "user_create", "user:boss")
    # The admin can log in.
    from dashboard import create_app
    from dashboard.web.auth import authenticate

    app = create_app({"TESTING": True})
    with app.test_request_context("/login"):
        assert authenticate("boss", PASSWORD).role == Role.ADMIN
    db.engine.dispose()


def test_init_refuses_a_second_run_and_any_database_that_holds_data(init_env):
    assert run_init("--admin-username", "boss", "--admin-password", PASSWORD).exit_code == 0
    before = tables_and_rows(init_env)
    again = run_init("--admin-username", "other", "--admin-password", PASSWORD)
    assert again.exit_code == 1
    assert "is not empty (" in again.output and "1 users" in again.output
    assert "python app.py users add --role admin" in again.output
    assert tables_and_rows(init_env) == before
    # A database with regions (a demo, an earlier install) is refused as well, before any prompt.
    with db.transaction() as session:
        session.query(User).delete()
        session.query(AuditLog).delete()
        session.add(Region(code="510107", name="武侯区", level="district"))
    refused = run_init(input="boss\n")
    assert refused.exit_code == 1 and "1 regions" in refused.output
    assert "user name" not in refused.output
    db.engine.dispose()


def test_init_prompts_for_the_admin_and_asks_again_after_a_refused_password(init_env):
    answers = "\n".join(["lead", "too short", "too short", PASSWORD, "typo in it!", PASSWORD, PASSWORD, ""])
    result = run_init(input=answers)
    assert result.exit_code == 0, result.output
    assert "first admin's user name [admin]: lead" in result.output
    assert "at least 10 characters are needed" in result.output  # services.admin's rule, in its own words
    assert "do not match" in result.output.lower()  # click's confirmation
    assert "admin lead created" in result.output
    with db.session() as session:
        assert session.scalars(select(User.username)).all() == ["lead"]
    db.engine.dispose()


def test_init_refuses_bad_options_naming_them(init_env):
    result = run_init("--admin-username", "a b", "--admin-password", PASSWORD)
    assert result.exit_code == 2
    assert "--admin-username" in result.output
    short = run_init("--admin-username", "boss", "--admin-password", "short")
    assert short.exit_code == 2 and "--admin-password" in short.output
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0
    db.engine.dispose()
