"""/healthz reports the database, the calendar's coverage and the scheduler."""

from dashboard import create_app
from dashboard.store.database import db

HEALTH_TOKEN = "monitor-token"


def test_healthz_reports_ok_with_database_status(client, app):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["database"]["status"] == "ok"
    assert body["database"]["backend"] in ("sqlite", "postgresql")
    assert body["status"] in ("ok", "degraded")
    assert body["scheduler"] == "disabled"
    # 2027's holidays are not published in the library yet: the fallback is reported.
    if "2027" in body["calendar"]["sources"] and body["calendar"]["sources"]["2027"] == "fallback":
        assert any("2027" in warning for warning in body["warnings"])


def test_healthz_is_503_when_the_database_is_down(tmp_path):
    app = create_app(
        {
            "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2",
            "TESTING": True,
            "SECRET_KEY": "x",
            "SCHEDULER_ENABLED": False,
            "HEALTH_TOKEN": HEALTH_TOKEN,
        }
    )
    response = app.test_client().get("/healthz", headers={"X-Health-Token": HEALTH_TOKEN})
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "error"
    assert body["database"]["status"].startswith("error")
    db.engine.dispose()


def test_healthz_reports_standby_then_running_as_the_scheduler_lock_changes_hands(database_url, tmp_path):
    import time

    from dashboard.store.locks import lock_for, process_name

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "TESTING": True,
            "SECRET_KEY": "x",
            "SCHEDULER_ENABLED": True,
            "SCHEDULER_LOCK_POLL_SECONDS": 0.1,
            "DEMO_MODE": True,  # details without a log-in
            "DROP_DIR": str(tmp_path / "dropbox"),
            "EXPORT_DIR": str(tmp_path / "exports"),
        }
    )
    scheduler = app.extensions["scheduler"]
    scheduler.scheduler.remove_all_jobs()  # the lock is under test here, not the jobs
    scheduler.local.remove_all_jobs()
    other_process = lock_for(database_url)  # another holder: a second lock object conflicts like a process
    client = app.test_client()

    def scheduler_state(expected: str) -> dict:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            body = client.get("/healthz").get_json()
            if body["scheduler"] == expected:
                return body
            time.sleep(0.05)
        raise AssertionError(f"the scheduler never reported {expected}: {body}")

    try:
        assert client.get("/healthz").get_json()["scheduler"] == "stopped"  # enabled, not started
        assert other_process.acquire()
        scheduler.start()
        standby = scheduler_state("standby")
        assert standby["scheduler_lock"]["held_here"] is False
        assert standby["scheduler_lock"]["holder"] == process_name()
        other_process.release()
        running = scheduler_state("running")
        assert running["scheduler_lock"]["held_here"] is True
        assert not other_process.acquire()
    finally:
        scheduler.shutdown()
        other_process.release()
        db.engine.dispose()


def test_anonymous_gets_the_status_only_outside_demo_mode(make_hardened_app):
    app = make_hardened_app(HEALTH_TOKEN=HEALTH_TOKEN)
    client = app.test_client()
    anonymous = client.get("/healthz")
    assert anonymous.status_code == 200
    assert set(anonymous.get_json()) == {"status"}  # no lock holder, pid, host or file path
    assert set(client.get("/healthz", headers={"X-Health-Token": "wrong"}).get_json()) == {"status"}
    monitor = client.get("/healthz", headers={"X-Health-Token": HEALTH_TOKEN}).get_json()
    assert {"database", "calendar", "scheduler", "scheduler_lock"} <= set(monitor)


def test_a_logged_in_user_gets_the_details(make_hardened_app):
    from dashboard.domain.roles import Role
    from tests.console_support import add_user, login

    app = make_hardened_app()
    with app.app_context():
        add_user("ops", Role.ADMIN, None)
    client = app.test_client()
    assert set(client.get("/healthz").get_json()) == {"status"}
    login(client, "ops")
    assert "scheduler_lock" in client.get("/healthz").get_json()
