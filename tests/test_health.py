"""/healthz reports the database, the calendar's coverage and the scheduler."""

from dashboard import create_app
from dashboard.extensions import db


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
        }
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "error"
    assert body["database"]["status"].startswith("error")
    db.engine.dispose()
