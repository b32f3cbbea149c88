"""Log-in, lock-out, region scope, and the guard that closes anything undeclared."""

from __future__ import annotations

import datetime as dt

from dash import Input, Output
from sqlalchemy import select

from dashboard.domain.roles import Role
from dashboard.store.database import db
from dashboard.store.models import AuditLog, User
from tests.console_support import (
    COMPOUND_B,
    STREET_A,
    STREET_B,
    add_street_b,
    add_user,
    dash_callback,
    login,
)


def test_login_starts_a_session_and_logout_ends_it(demo_app, client):
    add_user("lead", Role.ADMIN, None)
    assert client.get("/drill/export.csv").status_code == 302  # anonymous: sent to the log-in page
    response = login(client, "lead")
    assert response.status_code == 302 and response.headers["Location"] == "/drill"
    assert client.get("/drill/export.csv").status_code == 200
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/drill/export.csv").status_code == 302
    with db.session() as session:
        actions = [row.action for row in session.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert actions[:1] == ["login"] and "logout" in actions


def test_wrong_passwords_lock_the_account(demo_app, client):
    add_user("street", Role.SUPERVISOR, STREET_A)
    for _ in range(4):
        assert login(client, "street", "wrong password").status_code == 401
    locked = login(client, "street", "wrong password")
    assert locked.status_code == 403 and "锁定" in locked.get_data(as_text=True)
    # Even the right password is refused while the lock holds.
    assert login(client, "street").status_code == 403
    with db.transaction() as tx:
        user = tx.scalar(select(User).where(User.username == "street"))
        assert user.locked_until is not None
        user.locked_until = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert login(client, "street").status_code == 302


def test_unknown_user_and_wrong_password_look_the_same(demo_app, client):
    add_user("someone", Role.ADMIN, None)
    unknown = login(client, "nobody", "whatever password")
    wrong = login(client, "someone", "whatever password")
    assert unknown.status_code == wrong.status_code == 401
    assert "用户名或密码不正确" in unknown.get_data(as_text=True) and "用户名或密码不正确" in wrong.get_data(
        as_text=True
    )


def test_login_form_needs_its_csrf_token(demo_app, client):
    add_user("lead", Role.ADMIN, None)
    response = client.post("/login", data={"username": "lead", "password": "correct horse battery"})
    assert response.status_code == 400


def test_next_parameter_cannot_leave_the_site(demo_app, client):
    add_user("lead", Role.ADMIN, None)
    page = client.get("/login?next=//evil.example/x").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(
        "/login",
        data={"username": "lead", "password": "correct horse battery", "csrf_token": token, "next": "//evil.example/x"},
    )
    assert response.headers["Location"] == "/drill"


def test_a_route_without_a_declared_permission_is_closed(demo_app, client):
    @demo_app.route("/forgotten")
    def forgotten():
        return "secret"

    add_user("lead", Role.ADMIN, None)
    login(client, "lead")
    response = client.get("/forgotten")
    assert response.status_code == 403 and b"secret" not in response.data


def test_a_callback_without_a_declared_permission_is_closed(demo_app, client):
    dash_app = demo_app.extensions["dash"]

    @dash_app.callback(Output("forgotten-out", "children"), Input("forgotten-in", "value"))
    def forgotten(value):
        return "secret"

    add_user("lead", Role.ADMIN, None)
    login(client, "lead")
    response = dash_callback(
        client, "forgotten-out.children", [{"id": "forgotten-in", "property": "value", "value": 1}]
    )
    assert response.status_code == 403 and b"secret" not in response.data


def test_supervisor_sees_nothing_of_another_street(demo_app, client):
    add_street_b(demo_app)
    add_user("street-a", Role.SUPERVISOR, STREET_A)
    login(client, "street-a")
    # The list export of street B is refused; the district's is too (it includes B).
    assert client.get(f"/drill/export.csv?region={STREET_B}").status_code == 403
    assert client.get("/drill/export.csv?region=510107").status_code == 403
    own = client.get("/drill/export.csv").get_data(as_text=True)
    assert "乙" not in own and own.count("\n") > 1
    # The grid callback answers nothing for street B's region.
    grid = dash_callback(
        client,
        "..drill-grid.getRowsResponse..",
        [{"id": "drill-grid", "property": "getRowsRequest", "value": {"startRow": 0, "endRow": 100}}],
        [{"id": "drill-url", "property": "search", "value": f"?region={COMPOUND_B}&from=2026-11-01&to=2026-11-20"}],
    )
    assert grid.status_code == 204 or "乙" not in grid.get_data(as_text=True)
    # Street B's appeal pages look missing.
    with db.session() as session:
        from dashboard.store.models import Appeal

        appeal_id = session.scalar(select(Appeal.id).where(Appeal.region_code == COMPOUND_B))
    layout = client.get(f"/appeal/{appeal_id}")
    assert layout.status_code == 200  # the page shell carries no data; its layout callback refuses:
    from flask import session as flask_session  # noqa: F401

    from callbacks import appeal

    with demo_app.test_request_context():
        from flask import g

        from dashboard.web.auth import Principal

        g._login_user = Principal(user_id=1, username="street-a", role=Role.SUPERVISOR, region_code=STREET_A)
        text = str(appeal.page(appeal_id=str(appeal_id)))
    assert "乙" not in text and "13912345678" not in text


def test_street_supervisor_sees_own_street_and_admin_sees_all(demo_app, client):
    add_street_b(demo_app)
    add_user("street-b", Role.SUPERVISOR, STREET_B)
    login(client, "street-b")
    csv_text = client.get("/drill/export.csv?from=2026-11-01&to=2026-11-20").get_data(as_text=True)
    assert csv_text.count("乙小区") == 3
    assert "13912345678" not in csv_text and "139****5678" in csv_text  # masked in the export
    with db.session() as session:
        audit = session.scalars(select(AuditLog).where(AuditLog.action == "export_list")).all()
    assert len(audit) == 1 and audit[0].actor == "street-b"


def test_admin_unmasks_one_appeal_for_a_stated_purpose_and_it_is_audited(demo_app, client):
    from dashboard.store.models import Appeal

    add_street_b(demo_app)
    with db.session() as session:
        appeal_id = session.scalar(select(Appeal.id).where(Appeal.region_code == COMPOUND_B))

    def unmask(who_client, purpose):
        return dash_callback(
            who_client,
            "..appeal-unmasked.children..",
            [{"id": "appeal-unmask-button", "property": "n_clicks", "value": 1}],
            [
                {"id": "appeal-unmask-purpose", "property": "value", "value": purpose},
                {"id": "appeal-id", "property": "data", "value": {"id": appeal_id, "lang": "en"}},
            ],
        )

    add_user("street-b", Role.SUPERVISOR, STREET_B)
    supervisor = demo_app.test_client()
    login(supervisor, "street-b")
    assert unmask(supervisor, "curious").status_code == 403  # supervisors never see it in full
    add_user("lead", Role.ADMIN, None)
    login(client, "lead")
    no_reason = unmask(client, " ").get_data(as_text=True)
    assert "13912345678" not in no_reason and "purpose" in no_reason
    shown = unmask(client, "call the resident back about B-1").get_data(as_text=True)
    assert "13912345678" in shown and "王小明" in shown.encode().decode("unicode_escape")
    with db.session() as session:
        entries = session.scalars(select(AuditLog).where(AuditLog.action == "unmask")).all()
    assert [(e.actor, e.target, e.purpose) for e in entries] == [
        ("lead", f"appeal:{appeal_id}", "call the resident back about B-1")
    ]
