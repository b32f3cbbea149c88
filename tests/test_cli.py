"""The command line: demo data, users, migrations."""

from sqlalchemy import select

from dashboard.store.database import db
from dashboard.store.models import User


def test_demo_command_prints_a_summary_and_refuses_to_run_twice(runner):
    result = runner.invoke("demo", "--scale", "tiny", "--end", "2026-11-20T12:00:00+08:00")
    assert result.exit_code == 0, result.output
    assert "residents: 2,000" in result.output
    assert "last 365 days: received=" in result.output

    again = runner.invoke("demo", "--scale", "tiny", "--if-empty")
    assert again.exit_code == 0 and "nothing to do" in again.output

    refused = runner.invoke("demo", "--scale", "tiny")
    assert refused.exit_code != 0 and "already holds data" in refused.output

    reset = runner.invoke("demo", "--scale", "tiny", "--reset", "--seed", "3")
    assert reset.exit_code == 0, reset.output


def test_users_add_hashes_the_password_and_checks_the_region(runner):
    runner.invoke("demo", "--scale", "tiny")
    bad = runner.invoke("users", "add", "--username", "lead", "--role", "supervisor", "--password", "long-enough-pw")
    assert bad.exit_code != 0 and "needs --region" in bad.output
    unknown = runner.invoke(
        "users",
        "add",
        "--username",
        "lead",
        "--role",
        "supervisor",
        "--region",
        "510107999",
        "--password",
        "long-enough-pw",
    )
    assert unknown.exit_code != 0 and "no region" in unknown.output
    ok = runner.invoke(
        "users",
        "add",
        "--username",
        "lead",
        "--role",
        "supervisor",
        "--region",
        "510107001",
        "--password",
        "long-enough-pw",
    )
    assert ok.exit_code == 0, ok.output
    with db.session() as session:
        user = session.scalar(select(User).where(User.username == "lead"))
        assert user.password_hash != "long-enough-pw" and user.password_hash.startswith(("scrypt:", "pbkdf2:"))
    listing = runner.invoke("users", "list")
    assert "lead\tsupervisor\t510107001\tactive" in listing.output


def test_db_current_reports_head(runner):
    result = runner.invoke("db", "current")
    assert result.exit_code == 0
    current, head = result.output.split("head:")
    assert current.split("current:")[1].strip() == head.strip()


def test_wall_tokens(runner):
    runner.invoke("demo", "--scale", "tiny")
    token = runner.invoke("walltokens", "add", "--name", "led-1", "--region", "510107001").output.strip()
    assert token.startswith("wall_")
    assert "led-1\t510107001\tactive" in runner.invoke("walltokens", "list").output
    assert "revoked 1" in runner.invoke("walltokens", "revoke", "led-1").output
    assert "revoked" in runner.invoke("walltokens", "list").output.split("\t")[-1]


def test_export_a_day(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("CC_EXPORT_DIR", str(tmp_path))
    runner.invoke("demo", "--scale", "tiny", "--end", "2026-11-20T12:00:00+08:00")
    result = runner.invoke("export", "--date", "2026-11-19")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "kpi_2026-11-19.csv").exists() and (tmp_path / "kpi_2026-11-19.xlsx").exists()
    assert runner.invoke("export", "--date", "2026-11-19").exit_code == 0  # again, on demand
