"""The exports page and its downloads: listed, scoped, audited."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import g
from sqlalchemy import select

from callbacks import exports as exports_page
from dashboard.domain.roles import Role
from dashboard.services.exports import produce_day
from dashboard.store.database import db
from dashboard.store.models import AuditLog
from dashboard.web.auth import Principal
from tests.console_support import STREET_A, add_user, login

DAY = dt.date(2026, 11, 19)


def _produce(app) -> None:
    produce_day(db, app.extensions["work_calendar"], DAY, Path(app.config["EXPORT_DIR"]))


def test_exports_page_lists_days_with_links_the_scope_allows(demo_app):
    _produce(demo_app)
    for principal, expected in (
        (Principal(user_id=1, username="a", role=Role.ADMIN), "/exports/2026-11-19/kpi_2026-11-19.xlsx"),
        (
            Principal(user_id=2, username="s", role=Role.SUPERVISOR, region_code=STREET_A),
            "/exports/2026-11-19/scoped.csv",
        ),
    ):
        with demo_app.test_request_context("/exports"):
            g._login_user = principal
            text = str(exports_page.page())
        assert expected in text
        assert ("kpi_2026-11-19.csv" in text) == (principal.role == Role.ADMIN)


def test_downloads_are_audited_and_scoped(demo_app, client):
    _produce(demo_app)
    add_user("lead", Role.ADMIN, None)
    add_user("street", Role.SUPERVISOR, STREET_A)
    assert client.get("/exports/2026-11-19/kpi_2026-11-19.csv").status_code == 302  # anonymous → log in
    login(client, "lead")
    response = client.get("/exports/2026-11-19/kpi_2026-11-19.csv")
    assert response.status_code == 200 and response.data.startswith(b"date,region_code,region_name,level,received")
    traversal = client.get("/exports/2026-11-19/..%2Fsecret_key")  # only the day's own files
    assert "attachment" not in traversal.headers.get("Content-Disposition", "")
    assert client.get("/exports/2026-11-19/secret_key").status_code == 404
    assert client.get("/exports/2026-11-18/kpi_2026-11-18.csv").status_code == 404  # not produced
    street = demo_app.test_client()
    login(street, "street")
    assert street.get("/exports/2026-11-19/kpi_2026-11-19.csv").status_code == 403
    scoped = street.get("/exports/2026-11-19/scoped.csv").get_data(as_text=True)
    lines = scoped.strip().splitlines()
    assert lines[0].startswith("date,region_code") and all(
        line.split(",")[1].startswith(STREET_A) for line in lines[1:]
    )
    with db.session() as session:
        audit = session.scalars(
            select(AuditLog).where(AuditLog.action == "download_export").order_by(AuditLog.id)
        ).all()
    assert [(a.actor, a.target) for a in audit] == [
        ("lead", "export:kpi_2026-11-19.csv"),
        ("street", f"export:kpi_2026-11-19_{STREET_A}.csv"),
    ]
